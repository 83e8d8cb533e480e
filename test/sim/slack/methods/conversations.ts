/** `conversations.info`, `conversations.history` (top level, newest first) and `conversations.replies` (a thread). */
import type { ChannelState, TeamState } from "../state/Workspaces.ts";
import { bot, type MethodDeps, type MethodSpec, requireString, SimApiError } from "./MethodSpec.ts";

function channelInfo(team: TeamState, c: ChannelState): Record<string, unknown> {
  return {
    id: c.id,
    name: c.name,
    is_channel: c.type === "channel",
    is_group: c.type === "group",
    is_im: c.type === "im",
    is_mpim: c.type === "mpim",
    is_private: c.type !== "channel",
    is_archived: false,
    is_general: c.name === "general",
    is_member: true,
    created: c.created,
    context_team_id: team.id,
    ...(c.user !== undefined ? { user: c.user } : {}),
  };
}

export function conversationsMethods({ state }: MethodDeps): Record<string, MethodSpec> {
  return {
    "conversations.info": bot(({ team, params }) => {
      const id = requireString(params, "channel", "channel_not_found");
      const channel = team.channels.get(id);
      if (!channel) throw new SimApiError("channel_not_found");
      return { channel: channelInfo(team, channel) };
    }),
    "conversations.history": bot(({ team, params }) => {
      const id = requireString(params, "channel", "channel_not_found");
      if (!team.channels.has(id)) throw new SimApiError("channel_not_found");
      const limit = Number(params.limit ?? 100) || 100;
      const list = (team.messages.get(id) ?? []).filter((m) => !m.deleted && (m.threadTs === undefined || m.replyBroadcast));
      const newestFirst = [...list].reverse().slice(0, limit);
      return { messages: newestFirst.map((m) => state.shape(m, team)), has_more: list.length > limit };
    }),
    "conversations.replies": bot(({ team, params }) => {
      const id = requireString(params, "channel", "channel_not_found");
      if (!team.channels.has(id)) throw new SimApiError("channel_not_found");
      const ts = requireString(params, "ts", "thread_not_found");
      const target = state.messages.find(team, id, ts);
      if (!target) throw new SimApiError("thread_not_found");
      const parentTs = target.threadTs ?? target.ts;
      const limit = Number(params.limit ?? 1000) || 1000;
      const list = (team.messages.get(id) ?? []).filter((m) => !m.deleted && (m.ts === parentTs || m.threadTs === parentTs));
      return { messages: list.slice(0, limit).map((m) => state.shape(m, team)), has_more: list.length > limit };
    }),
  };
}
