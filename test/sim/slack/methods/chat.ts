/**
 * `chat.*`: postMessage, update, delete (only the bot's own messages), postEphemeral, getPermalink.
 * With `echoBotPosts` / `echoBotEdits`, the platform's `message` / `message_changed` /
 * `message_deleted` events for the bot's own activity are sent once the answer is written.
 * `markdown_text` (≤ 12,000 characters, not with `text`/`blocks`), `metadata` and chat.update's
 * `file_ids` are taken; a message still streaming refuses chat.update (`streaming_state_conflict`);
 * an empty `thread_ts` is refused (`invalid_thread_ts`), as Slack does.
 */
import { channelTypeIn } from "../state/messageShapes.ts";
import type { SimEphemeral } from "../types.ts";
import { asArray, asBool, asString } from "../util.ts";
import { checkMarkdownText, checkText } from "./limits.ts";
import { bot, existingMessage, type MethodDeps, type MethodSpec, postableChannel, requireString, SimApiError } from "./MethodSpec.ts";

/** `text` or `markdown_text` (never both, nor markdown_text with blocks). */
function messageText(params: Record<string, unknown>, blocks: unknown[] | undefined): string | undefined {
  const text = asString(params.text);
  const markdown = asString(params.markdown_text);
  if (markdown === undefined) return text;
  if (text !== undefined || blocks !== undefined) throw new SimApiError("markdown_text_conflict");
  checkMarkdownText(markdown);
  return markdown;
}

export function chatMethods({ state, echo }: MethodDeps): Record<string, MethodSpec> {
  return {
    "chat.postMessage": bot(({ team, params, after }) => {
      const channel = requireString(params, "channel", "channel_not_found");
      const blocks = asArray(params.blocks);
      const text = messageText(params, blocks);
      const attachments = asArray(params.attachments);
      checkText(text, blocks, attachments);
      if (params.thread_ts === "") throw new SimApiError("invalid_thread_ts");
      postableChannel(state, team, channel);
      const message = state.messages.storeBot(team, channel, {
        text: text ?? "",
        blocks,
        attachments,
        threadTs: asString(params.thread_ts),
        replyBroadcast: asBool(params.reply_broadcast) ?? false,
        params,
      });
      if (params.metadata !== undefined && params.metadata !== null && params.metadata !== "") message.metadata = params.metadata;
      state.assistant.botReplied(team.id, channel, message.threadTs);
      if (state.settings.echoBotPosts) after.push(() => echo(team, state.messageEvent(team, message)));
      return { channel, ts: message.ts, message: state.shape(message, team, { metadata: true }) };
    }),
    "chat.update": bot(({ team, params, after }) => {
      const channel = requireString(params, "channel", "channel_not_found");
      const ts = requireString(params, "ts", "message_not_found");
      const message = existingMessage(state, team, channel, ts);
      if (message.botId !== team.botId) throw new SimApiError("cant_update_message");
      if (state.streamState(message) === "streaming") throw new SimApiError("streaming_state_conflict");
      const blocks = asArray(params.blocks);
      const text = messageText(params, blocks);
      const attachments = asArray(params.attachments);
      const fileIds = asArray(params.file_ids);
      const files = fileIds?.map((id) => {
        const file = state.files.get(String(id));
        if (!file || file.teamId !== team.id || !file.uploaded || file.deleted) throw new SimApiError("file_not_found");
        return file;
      });
      checkText(text ?? (blocks || attachments || files?.length ? undefined : ""), blocks, attachments);
      const previous = state.shape(message, team);
      if (text !== undefined) message.text = text;
      if (blocks !== undefined) message.blocks = blocks;
      if (attachments !== undefined) message.attachments = attachments;
      if (files !== undefined) {
        message.files = files;
        for (const file of files) {
          if (!file.shares.some((s) => s.ts === message.ts)) {
            file.shares.push({ channel, ts: message.ts, ...(message.threadTs !== undefined ? { threadTs: message.threadTs } : {}) });
          }
        }
      }
      if (params.metadata !== undefined) {
        const metadata = params.metadata;
        if (typeof metadata === "object" && metadata !== null && Object.keys(metadata).length === 0) delete message.metadata;
        else message.metadata = metadata;
      }
      message.editedBy = team.botUserId;
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
      return { channel, ts, text: message.text, message: state.shape(message, team, { metadata: true }) };
    }),
    "chat.delete": bot(({ team, params, after }) => {
      const channel = requireString(params, "channel", "channel_not_found");
      const ts = requireString(params, "ts", "message_not_found");
      const message = existingMessage(state, team, channel, ts);
      if (message.botId !== team.botId) throw new SimApiError("cant_delete_message");
      const previous = state.shape(message, team);
      message.deleted = true;
      message.deletedBy = team.botUserId;
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
