/**
 * Text streaming, as Slack's reference pages describe it: `chat.startStream` (a reply in a thread:
 * `thread_ts` required; outside DMs `recipient_user_id` and `recipient_team_id` required; optional
 * `markdown_text` / `chunks`), `chat.appendStream` (`channel`, `ts`, `markdown_text` or `chunks`) and
 * `chat.stopStream` (`channel`, `ts`, optional `markdown_text` / `chunks`, `blocks` rendered under the
 * text, `metadata`). Each call's resulting text is kept as a version of the message (what the user saw
 * grow). A stream Slack closed (idle/age limit), stopped, or never started answers
 * `message_not_in_streaming_state`; a deleted one `message_not_found`.
 *
 * Events: startStream is a new bot message (`message` event with echoBotPosts); stopStream sends one
 * `message_changed` with the final message (echoBotEdits); appends send none unless echoStreamAppends
 * (Slack does not document what it sends while streaming).
 */

import type { StoredMessage } from "../state/MessageStore.ts";
import { channelTypeIn } from "../state/messageShapes.ts";
import type { SlackState } from "../state/SlackState.ts";
import type { TeamState } from "../state/Workspaces.ts";
import { asArray, asString } from "../util.ts";
import { checkMarkdownText, SLACK_MAX_TEXT, validateBlocks } from "./limits.ts";
import { bot, existingMessage, type MethodDeps, type MethodSpec, postableChannel, requireString, SimApiError } from "./MethodSpec.ts";

const TASK_STATUSES = new Set(["pending", "in_progress", "complete", "error"]);

interface StreamContent {
  /** markdown text to append */
  text: string;
  /** every chunk, markdown_text param included as a chunk */
  chunks: unknown[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `markdown_text` and `chunks` of a call, validated; `no_text` when `required` and both are absent. */
function streamContent(params: Record<string, unknown>, required: boolean): StreamContent {
  const content: StreamContent = { text: "", chunks: [] };
  const markdown = asString(params.markdown_text);
  if (markdown !== undefined && markdown !== "") {
    checkMarkdownText(markdown);
    content.text += markdown;
    content.chunks.push({ type: "markdown_text", text: markdown });
  }
  const raw = params.chunks;
  if (raw !== undefined && raw !== null && raw !== "") {
    if (!Array.isArray(raw)) throw new SimApiError("invalid_chunks");
    for (const chunk of raw) {
      if (!isRecord(chunk) || typeof chunk.type !== "string") throw new SimApiError("invalid_chunks");
      if (chunk.type === "markdown_text") {
        if (typeof chunk.text !== "string") throw new SimApiError("invalid_chunks");
        checkMarkdownText(chunk.text);
        content.text += chunk.text;
      } else if (chunk.type === "task_update") {
        if (typeof chunk.id !== "string" || typeof chunk.title !== "string" || !TASK_STATUSES.has(String(chunk.status))) {
          throw new SimApiError("invalid_chunks");
        }
      } else if (chunk.type === "plan_update") {
        if (typeof chunk.title !== "string") throw new SimApiError("invalid_chunks");
      } else if (chunk.type === "blocks") {
        const blocks = asArray(chunk.blocks);
        if (!blocks) throw new SimApiError("invalid_chunks");
        validateBlocks(blocks);
      } else {
        throw new SimApiError("invalid_chunks");
      }
      content.chunks.push(chunk);
    }
  }
  if (required && content.chunks.length === 0) throw new SimApiError("no_text");
  return content;
}

/** Adds streamed text; Slack cuts a message's text at 40,000 characters (with a warning). */
function appendText(message: StoredMessage, content: StreamContent): { warning?: string } {
  const stream = message.stream;
  if (stream) stream.chunks.push(...content.chunks);
  if (content.text === "") return {};
  let next = message.text + content.text;
  let warning: string | undefined;
  if (next.length > SLACK_MAX_TEXT) {
    next = next.slice(0, SLACK_MAX_TEXT);
    if (stream) stream.truncated = true;
    warning = "message_truncated";
  }
  message.text = next;
  message.versions.push(next);
  return warning !== undefined ? { warning } : {};
}

/** The bot's streamed message, still streaming. */
function streamingMessage(state: SlackState, team: TeamState, params: Record<string, unknown>): StoredMessage {
  const channel = requireString(params, "channel", "channel_not_found");
  const ts = requireString(params, "ts", "message_not_found");
  const message = existingMessage(state, team, channel, ts);
  if (message.botId !== team.botId) throw new SimApiError("message_not_owned_by_app");
  if (state.streamState(message) !== "streaming") throw new SimApiError("message_not_in_streaming_state");
  return message;
}

function withWarning(body: Record<string, unknown>, warning: string | undefined): Record<string, unknown> {
  if (warning === undefined) return body;
  return { ...body, warning, response_metadata: { warnings: [warning] } };
}

export function streamMethods({ state, echo }: MethodDeps): Record<string, MethodSpec> {
  const changed = (team: TeamState, message: StoredMessage, previous: Record<string, unknown>): Record<string, unknown> => {
    const ts = state.nextTs();
    return {
      type: "message",
      subtype: "message_changed",
      hidden: true,
      message: state.shape(message, team),
      channel: message.channel,
      previous_message: previous,
      event_ts: ts,
      ts,
      channel_type: channelTypeIn(team, message.channel),
    };
  };
  return {
    "chat.startStream": bot(({ team, params, after }) => {
      const channel = requireString(params, "channel", "channel_not_found");
      const threadTs = asString(params.thread_ts);
      if (threadTs === undefined || threadTs === "") {
        throw new SimApiError("invalid_arguments", { response_metadata: { messages: ["[ERROR] missing required field: thread_ts"] } });
      }
      postableChannel(state, team, channel);
      const recipientUser = asString(params.recipient_user_id);
      const recipientTeam = asString(params.recipient_team_id);
      if (channelTypeIn(team, channel) !== "im") {
        if (recipientUser === undefined || recipientUser === "") throw new SimApiError("missing_recipient_user_id");
        if (recipientTeam === undefined || recipientTeam === "") throw new SimApiError("missing_recipient_team_id");
      }
      if (recipientTeam !== undefined && recipientTeam !== "") {
        let recipients: TeamState;
        try {
          recipients = state.team(recipientTeam);
        } catch {
          throw new SimApiError("team_not_found");
        }
        if (recipientUser !== undefined && recipientUser !== "" && !recipients.users.has(recipientUser)) {
          throw new SimApiError("user_not_found");
        }
      }
      const mode = asString(params.task_display_mode);
      if (mode !== undefined && mode !== "timeline" && mode !== "plan") throw new SimApiError("invalid_arguments");
      const content = streamContent(params, false);
      const now = Date.now();
      const message = state.messages.storeBot(team, channel, { text: "", threadTs, params });
      message.versions = [];
      message.stream = { state: "streaming", startedAt: now, lastActivityAt: now, appends: 0, chunks: [] };
      if (recipientUser !== undefined && recipientUser !== "") message.stream.recipientUserId = recipientUser;
      if (recipientTeam !== undefined && recipientTeam !== "") message.stream.recipientTeamId = recipientTeam;
      const { warning } = appendText(message, content);
      if (message.versions.length === 0) message.versions.push("");
      state.assistant.botReplied(team.id, channel, message.threadTs);
      if (state.settings.echoBotPosts) {
        const event = state.messageEvent(team, message);
        after.push(() => echo(team, event));
      }
      return withWarning({ channel, ts: message.ts }, warning);
    }),
    "chat.appendStream": bot(({ team, params, after }) => {
      const message = streamingMessage(state, team, params);
      const content = streamContent(params, true);
      const previous = state.shape(message, team);
      const { warning } = appendText(message, content);
      const stream = message.stream;
      if (stream) {
        stream.appends += 1;
        stream.lastActivityAt = Date.now();
      }
      if (state.settings.echoBotEdits && state.settings.echoStreamAppends) {
        const event = changed(team, message, previous);
        after.push(() => echo(team, event));
      }
      return withWarning({ channel: message.channel, ts: message.ts }, warning);
    }),
    "chat.stopStream": bot(({ team, params, after }) => {
      const message = streamingMessage(state, team, params);
      const content = streamContent(params, false);
      const blocks = asArray(params.blocks);
      validateBlocks(blocks);
      const previous = state.shape(message, team);
      const { warning } = appendText(message, content);
      const stream = message.stream;
      if (stream) {
        stream.state = "stopped";
        stream.lastActivityAt = Date.now();
        if (blocks) stream.stopBlocks = blocks;
      }
      if (blocks) message.blocks = blocks;
      if (params.metadata !== undefined && params.metadata !== null && params.metadata !== "") message.metadata = params.metadata;
      if (state.settings.echoBotEdits) {
        const event = changed(team, message, previous);
        after.push(() => echo(team, event));
      }
      return withWarning({ channel: message.channel, ts: message.ts, message: state.shape(message, team, { metadata: true }) }, warning);
    }),
  };
}
