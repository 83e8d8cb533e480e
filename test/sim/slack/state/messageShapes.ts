/**
 * How a stored message looks: to tests (`SimMessage`: current text, every version, edits, replies),
 * and to the app (the Web API / event message object, and the `message` event).
 */
import type { ChannelType, SimMessage, SimStreamView } from "../types.ts";
import type { FileStore } from "./FileStore.ts";
import type { MessageStore, StoredMessage } from "./MessageStore.ts";
import { channelTypeOf, type TeamState } from "./Workspaces.ts";

/** The message as a test reads it. */
export function messageView(m: StoredMessage, files?: FileStore): SimMessage {
  const threadTs = m.threadTs ?? (m.replyCount > 0 ? m.ts : undefined);
  const view: SimMessage = {
    ts: m.ts,
    channel: m.channel,
    team: m.team,
    reply: m.threadTs !== undefined,
    text: m.text,
    edits: m.edits,
    versions: [...m.versions],
    deleted: m.deleted,
    reply_count: m.replyCount,
    reactions: [...m.reactions].map(([name, users]) => ({ name, users: [...users], count: users.length })),
    postParams: { ...m.postParams },
  };
  if (threadTs !== undefined) view.thread_ts = threadTs;
  if (m.blocks) view.blocks = m.blocks;
  if (m.attachments) view.attachments = m.attachments;
  if (m.user !== undefined) view.user = m.user;
  if (m.botId !== undefined) view.bot_id = m.botId;
  if (m.appId !== undefined) view.app_id = m.appId;
  if (m.subtype !== undefined) view.subtype = m.subtype;
  if (m.replyBroadcast) view.reply_broadcast = true;
  if (m.files && files) view.files = m.files.map((f) => files.view(f));
  if (m.metadata !== undefined) view.metadata = m.metadata;
  if (m.assistantAppThread) view.assistantTitle = m.assistantAppThread.title;
  if (m.stream) {
    const stream: SimStreamView = {
      state: m.stream.state,
      startedAt: m.stream.startedAt,
      lastActivityAt: m.stream.lastActivityAt,
      appends: m.stream.appends,
      chunks: [...m.stream.chunks],
    };
    if (m.stream.recipientUserId !== undefined) stream.recipientUserId = m.stream.recipientUserId;
    if (m.stream.recipientTeamId !== undefined) stream.recipientTeamId = m.stream.recipientTeamId;
    if (m.stream.stopBlocks) stream.stopBlocks = m.stream.stopBlocks;
    if (m.stream.truncated) stream.truncated = true;
    view.stream = stream;
  }
  return view;
}

/** A message object as the Web API and events show it. */
export function slackShape(
  messages: MessageStore,
  files: FileStore,
  botName: string,
  m: StoredMessage,
  team: TeamState,
  options: { metadata?: boolean } = {},
): Record<string, unknown> {
  const shape: Record<string, unknown> = { type: "message" };
  if (m.subtype !== undefined) shape.subtype = m.subtype;
  shape.text = m.text;
  if (m.user !== undefined) shape.user = m.user;
  if (m.botId !== undefined) {
    shape.bot_id = m.botId;
    shape.app_id = m.appId;
    shape.bot_profile = {
      id: m.botId,
      app_id: m.appId,
      name: m.botId === team.botId ? botName : "otherbot",
      team_id: team.id,
      deleted: false,
    };
  }
  if (m.clientMsgId !== undefined) shape.client_msg_id = m.clientMsgId;
  shape.ts = m.ts;
  if (m.threadTs !== undefined) {
    shape.thread_ts = m.threadTs;
    const parent = messages.find(team, m.channel, m.threadTs);
    if (parent?.user !== undefined) shape.parent_user_id = parent.user;
  } else if (m.replyCount > 0) {
    shape.thread_ts = m.ts;
    shape.reply_count = m.replyCount;
    shape.reply_users = [...m.replyUsers];
    shape.reply_users_count = m.replyUsers.size;
    shape.latest_reply = m.latestReply;
  }
  if (m.editedTs !== undefined) shape.edited = { user: m.editedBy ?? m.user, ts: m.editedTs };
  if (m.blocks) shape.blocks = m.blocks;
  if (m.attachments) shape.attachments = m.attachments;
  if (m.files) {
    shape.files = m.files.map((f) => files.shape(f, team));
    shape.upload = m.botId === undefined;
    shape.display_as_bot = false;
  }
  if (m.assistantAppThread) shape.assistant_app_thread = { title: m.assistantAppThread.title, title_blocks: [], artifacts: [] };
  if (options.metadata && m.metadata !== undefined) shape.metadata = m.metadata;
  if (m.reactions.size > 0) {
    shape.reactions = [...m.reactions].map(([name, users]) => ({ name, users: [...users], count: users.length }));
  }
  shape.team = team.id;
  return shape;
}

/** The `channel_type` events carry for a channel. */
export function channelTypeIn(team: TeamState, channel: string): ChannelType {
  return team.channels.get(channel)?.type ?? channelTypeOf(channel);
}

/** The `message` event for a stored message. */
export function messageEvent(
  messages: MessageStore,
  files: FileStore,
  botName: string,
  team: TeamState,
  m: StoredMessage,
  channelType?: ChannelType,
): Record<string, unknown> {
  return {
    ...slackShape(messages, files, botName, m, team),
    channel: m.channel,
    event_ts: m.ts,
    channel_type: channelType ?? channelTypeIn(team, m.channel),
  };
}
