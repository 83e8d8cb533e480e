/**
 * `chat.*`: postMessage, update, delete (only the bot's own messages), postEphemeral, getPermalink.
 * With `echoBotPosts` / `echoBotEdits`, the platform's `message` / `message_changed` /
 * `message_deleted` events for the bot's own activity are sent once the answer is written.
 */
import { channelTypeIn } from "../state/messageShapes.ts";
import type { SimEphemeral } from "../types.ts";
import { asArray, asBool, asString } from "../util.ts";
import { checkText } from "./limits.ts";
import { bot, existingMessage, type MethodDeps, type MethodSpec, requireString, SimApiError } from "./MethodSpec.ts";

export function chatMethods({ state, echo }: MethodDeps): Record<string, MethodSpec> {
  return {
    "chat.postMessage": bot(({ team, params, after }) => {
      const channel = requireString(params, "channel", "channel_not_found");
      const text = asString(params.text);
      const blocks = asArray(params.blocks);
      const attachments = asArray(params.attachments);
      checkText(text, blocks, attachments);
      const message = state.messages.storeBot(team, channel, {
        text: text ?? "",
        blocks,
        attachments,
        threadTs: asString(params.thread_ts),
        replyBroadcast: asBool(params.reply_broadcast) ?? false,
        params,
      });
      if (state.settings.echoBotPosts) after.push(() => echo(team, state.messageEvent(team, message)));
      return { channel, ts: message.ts, message: state.shape(message, team) };
    }),
    "chat.update": bot(({ team, params, after }) => {
      const channel = requireString(params, "channel", "channel_not_found");
      const ts = requireString(params, "ts", "message_not_found");
      const message = existingMessage(state, team, channel, ts);
      if (message.botId !== team.botId) throw new SimApiError("cant_update_message");
      const text = asString(params.text);
      const blocks = asArray(params.blocks);
      const attachments = asArray(params.attachments);
      checkText(text ?? (blocks || attachments ? undefined : ""), blocks, attachments);
      const previous = state.shape(message, team);
      if (text !== undefined) message.text = text;
      if (blocks !== undefined) message.blocks = blocks;
      if (attachments !== undefined) message.attachments = attachments;
      message.versions.push(message.text);
      message.edits += 1;
      const editTs = state.nextTs();
      message.editedTs = editTs;
      if (state.settings.echoBotEdits) {
        const current = state.shape(message, team);
        after.push(() =>
          echo(team, {
            type: "message",
            subtype: "message_changed",
            hidden: true,
            message: current,
            channel,
            previous_message: previous,
            event_ts: editTs,
            ts: editTs,
            channel_type: channelTypeIn(team, channel),
          }),
        );
      }
      return { channel, ts, text: message.text, message: state.shape(message, team) };
    }),
    "chat.delete": bot(({ team, params, after }) => {
      const channel = requireString(params, "channel", "channel_not_found");
      const ts = requireString(params, "ts", "message_not_found");
      const message = existingMessage(state, team, channel, ts);
      if (message.botId !== team.botId) throw new SimApiError("cant_delete_message");
      const previous = state.shape(message, team);
      message.deleted = true;
      if (state.settings.echoBotEdits) {
        const eventTs = state.nextTs();
        after.push(() =>
          echo(team, {
            type: "message",
            subtype: "message_deleted",
            hidden: true,
            deleted_ts: ts,
            channel,
            previous_message: previous,
            event_ts: eventTs,
            ts: eventTs,
            channel_type: channelTypeIn(team, channel),
          }),
        );
      }
      return { channel, ts };
    }),
    "chat.postEphemeral": bot(({ team, params }) => {
      const channel = requireString(params, "channel", "channel_not_found");
      const user = requireString(params, "user", "user_not_found");
      const text = asString(params.text);
      const blocks = asArray(params.blocks);
      checkText(text, blocks, asArray(params.attachments));
      state.workspaces.ensureChannel(team, channel);
      const ephemeral: SimEphemeral = { channel, team: team.id, user, text: text ?? "", message_ts: state.nextTs(), via: "api" };
      if (blocks) ephemeral.blocks = blocks;
      const threadTs = asString(params.thread_ts);
      if (threadTs !== undefined) ephemeral.thread_ts = threadTs;
      team.ephemerals.push(ephemeral);
      return { message_ts: ephemeral.message_ts };
    }),
    "chat.getPermalink": bot(({ team, params }) => {
      const channel = requireString(params, "channel", "channel_not_found");
      const ts = requireString(params, "message_ts", "message_not_found");
      existingMessage(state, team, channel, ts);
      return { channel, permalink: `https://${team.domain}.slack.com/archives/${channel}/p${ts.replace(".", "")}` };
    }),
  };
}
