/** `reactions.add` / `reactions.remove`: the bot's reactions on a message. */
import { bot, existingMessage, type MethodDeps, type MethodSpec, requireString, SimApiError } from "./MethodSpec.ts";

export function reactionsMethods({ state }: MethodDeps): Record<string, MethodSpec> {
  return {
    "reactions.add": bot(({ team, params }) => {
      const channel = requireString(params, "channel", "channel_not_found");
      const ts = requireString(params, "timestamp", "message_not_found");
      const name = requireString(params, "name", "invalid_name");
      const message = existingMessage(state, team, channel, ts);
      const users = message.reactions.get(name) ?? [];
      if (users.includes(team.botUserId)) throw new SimApiError("already_reacted");
      message.reactions.set(name, [...users, team.botUserId]);
      return {};
    }),
    "reactions.remove": bot(({ team, params }) => {
      const channel = requireString(params, "channel", "channel_not_found");
      const ts = requireString(params, "timestamp", "message_not_found");
      const name = requireString(params, "name", "invalid_name");
      const message = existingMessage(state, team, channel, ts);
      const users = message.reactions.get(name) ?? [];
      if (!users.includes(team.botUserId)) throw new SimApiError("no_reaction");
      const rest = users.filter((u) => u !== team.botUserId);
      if (rest.length > 0) message.reactions.set(name, rest);
      else message.reactions.delete(name);
      return {};
    }),
  };
}
