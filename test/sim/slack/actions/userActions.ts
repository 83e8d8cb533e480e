/**
 * What a test makes a user do: mention the bot (stored message + `app_mention`, and the plain
 * `message` event Slack also sends), post a message (or another bot's; with files: subtype
 * `file_share`), edit a message (`message_changed`), delete one — theirs, or as an admin the bot's
 * (`message_deleted`) — and click a button on a message.
 */
import type { SimEnvelope } from "../delivery/SimEnvelope.ts";
import type { EventSender } from "../events/EventSender.ts";
import type { StoredMessage } from "../state/MessageStore.ts";
import { richTextBlocks } from "../state/MessageStore.ts";
import { channelTypeIn } from "../state/messageShapes.ts";
import type { SlackState } from "../state/SlackState.ts";
import type { TeamState } from "../state/Workspaces.ts";
import type { ClickButtonInput, SimFileInput, UserMentionInput, UserMessageInput } from "../types.ts";
import { asArray, asString, blockText } from "../util.ts";

export interface UserMentionResult {
  ts: string;
  threadTs?: string;
  event: SimEnvelope;
  messageEvent?: SimEnvelope;
  /** ids of the files attached */
  fileIds?: string[];
}

/** Attaches a user's files to their stored message (subtype file_share, as Slack sends it). */
function attachFiles(state: SlackState, team: TeamState, message: StoredMessage, files: SimFileInput[] | undefined): string[] | undefined {
  if (!files || files.length === 0) return undefined;
  const user = message.user ?? "";
  const records = files.map((input) => state.files.addUserFile(team, user, input));
  message.files = records;
  if (message.subtype === undefined) message.subtype = "file_share";
  for (const file of records) {
    file.shares.push({
      channel: message.channel,
      ts: message.ts,
      ...(message.threadTs !== undefined ? { threadTs: message.threadTs } : {}),
    });
  }
  return records.map((f) => f.id);
}

export function userMentions(state: SlackState, events: EventSender, teamId: string, input: UserMentionInput): UserMentionResult {
  const team = state.team(teamId);
  const mention = `<@${team.botUserId}>`;
  const text = input.text.includes(mention) ? input.text : `${mention} ${input.text}`;
  const { files, ...rest } = input;
  const stored = state.messages.storeUser(team, { ...rest, text });
  const fileIds = attachFiles(state, team, stored, files);
  const event: Record<string, unknown> = {
    type: "app_mention",
    client_msg_id: stored.clientMsgId,
    text,
    user: input.user,
    ts: stored.ts,
    blocks: stored.blocks,
    team: team.id,
    channel: input.channel,
    event_ts: stored.ts,
  };
  if (stored.threadTs !== undefined) event.thread_ts = stored.threadTs;
  if (stored.files) {
    event.files = stored.files.map((f) => state.files.shape(f, team));
    event.upload = true;
  }
  const result: UserMentionResult = { ts: stored.ts, event: events.sendEvent(teamId, event) };
  if (fileIds) result.fileIds = fileIds;
  if (stored.threadTs !== undefined) result.threadTs = stored.threadTs;
  if (input.alsoMessageEvent ?? state.settings.messageEventsForMentions) {
    result.messageEvent = events.sendEvent(teamId, state.messageEvent(team, stored));
  }
  return result;
}

export interface UserMessageResult {
  ts: string;
  threadTs?: string;
  event: SimEnvelope;
  /** ids of the files attached */
  fileIds?: string[];
}

export function userMessage(state: SlackState, events: EventSender, teamId: string, input: UserMessageInput): UserMessageResult {
  const team = state.team(teamId);
  const { files, ...rest } = input;
  const stored = state.messages.storeUser(team, rest);
  const fileIds = attachFiles(state, team, stored, files);
  const result: UserMessageResult = {
    ts: stored.ts,
    event: events.sendEvent(teamId, state.messageEvent(team, stored, input.channelType)),
  };
  if (fileIds) result.fileIds = fileIds;
  if (stored.threadTs !== undefined) result.threadTs = stored.threadTs;
  return result;
}

function liveMessage(state: SlackState, team: TeamState, channel: string, ts: string): StoredMessage {
  const message = state.messages.find(team, channel, ts);
  if (!message || message.deleted) throw new Error(`SlackSimulator: no message ${ts} in ${team.id}/${channel}`);
  return message;
}

/** A user edits their message: new text, and the `message_changed` event Slack sends (hidden, with previous_message). */
export function userEdits(
  state: SlackState,
  events: EventSender,
  teamId: string,
  input: { channel: string; ts: string; text: string },
): SimEnvelope {
  const team = state.team(teamId);
  const message = liveMessage(state, team, input.channel, input.ts);
  if (message.botId !== undefined) throw new Error("SlackSimulator: userEdits edits a user's message; the bot edits with chat.update");
  const previous = state.shape(message, team);
  message.text = input.text;
  message.blocks = richTextBlocks(input.text);
  message.versions.push(input.text);
  message.edits += 1;
  const editTs = state.nextTs();
  message.editedTs = editTs;
  if (message.user !== undefined) message.editedBy = message.user;
  return events.sendEvent(teamId, {
    type: "message",
    subtype: "message_changed",
    hidden: true,
    message: state.shape(message, team),
    channel: input.channel,
    previous_message: previous,
    event_ts: editTs,
    ts: editTs,
    channel_type: channelTypeIn(team, input.channel),
  });
}

/**
 * A message is deleted by someone other than the bot — its author, or a workspace admin deleting the
 * bot's reply — and Slack sends `message_deleted` (hidden, deleted_ts, previous_message). A stream on
 * it ends; later chat.update / appendStream / stopStream answer message_not_found.
 */
export function deleteMessage(
  state: SlackState,
  events: EventSender,
  teamId: string,
  input: { channel: string; ts: string; by?: string },
): SimEnvelope {
  const team = state.team(teamId);
  const message = liveMessage(state, team, input.channel, input.ts);
  const previous = state.shape(message, team);
  message.deleted = true;
  message.deletedBy = input.by ?? message.user ?? "";
  if (message.stream?.state === "streaming") message.stream.state = "stopped";
  const eventTs = state.nextTs();
  return events.sendEvent(teamId, {
    type: "message",
    subtype: "message_deleted",
    hidden: true,
    deleted_ts: input.ts,
    channel: input.channel,
    previous_message: previous,
    event_ts: eventTs,
    ts: eventTs,
    channel_type: channelTypeIn(team, input.channel),
  });
}

/** A block_actions click on a button of a stored message; block id and button text come from the message. */
export function clickButton(state: SlackState, events: EventSender, teamId: string, input: ClickButtonInput): SimEnvelope {
  const team = state.team(teamId);
  const stored = state.messages.find(team, input.channel, input.messageTs);
  let blockId = input.blockId;
  let buttonText = input.actionId;
  for (const block of stored?.blocks ?? []) {
    const b = block as Record<string, unknown>;
    const candidates = [...(asArray(b.elements) ?? []), b.accessory];
    for (const el of candidates) {
      const e = el as Record<string, unknown> | undefined;
      if (e && e.action_id === input.actionId) {
        blockId ??= asString(b.block_id);
        buttonText = blockText(e) || buttonText;
      }
    }
  }
  const action: Record<string, unknown> = {
    action_id: input.actionId,
    block_id: blockId ?? "actions",
    text: { type: "plain_text", text: buttonText, emoji: true },
    type: "button",
    action_ts: state.nextTs(),
  };
  if (input.value !== undefined) action.value = input.value;
  return events.sendInteractive(teamId, {
    user: { id: input.user ?? "U0USER1" },
    container: { type: "message", message_ts: input.messageTs, channel_id: input.channel, is_ephemeral: false },
    actions: [action],
  });
}
