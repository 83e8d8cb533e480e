/**
 * Messages in the Slack simulator's workspaces: storing what users and the bot post (with a fresh
 * ts), threading (a reply's thread_ts is its parent's; the parent counts its replies) and lookup.
 * How a stored message looks to the API, events and tests is in messageShapes.ts.
 */
import { randomBytes } from "node:crypto";
import type { UserMessageInput } from "../types.ts";
import { randomId } from "../util.ts";
import { compareTs, type TsClock } from "./clock.ts";
import type { FileRecord } from "./FileStore.ts";
import type { StreamRecord } from "./streams.ts";
import type { TeamState, Workspaces } from "./Workspaces.ts";

export interface StoredMessage {
  ts: string;
  channel: string;
  team: string;
  threadTs?: string;
  text: string;
  blocks?: unknown[];
  attachments?: unknown[];
  user?: string;
  botId?: string;
  appId?: string;
  subtype?: string;
  replyBroadcast?: boolean;
  versions: string[];
  edits: number;
  deleted: boolean;
  replyCount: number;
  replyUsers: Set<string>;
  latestReply?: string;
  reactions: Map<string, string[]>;
  postParams: Record<string, unknown>;
  editedTs?: string;
  /** who made the last edit (the bot, or the user for a user's edit) */
  editedBy?: string;
  clientMsgId?: string;
  /** files on the message (user upload, or the bot's completeUploadExternal share) */
  files?: FileRecord[];
  /** `{event_type, event_payload}` posted with the message or set by chat.update */
  metadata?: unknown;
  /** a message made by chat.startStream */
  stream?: StreamRecord;
  /** the root message of an assistant thread */
  assistantAppThread?: { title: string };
  /** who deleted it (a test's admin, the user, or the bot) */
  deletedBy?: string;
}

export interface BotMessageInput {
  text: string;
  blocks?: unknown[] | undefined;
  attachments?: unknown[] | undefined;
  threadTs?: string | undefined;
  replyBroadcast?: boolean;
  /** the params it was posted with (kept as `postParams`) */
  params: Record<string, unknown>;
}

/** Rich text blocks as Slack attaches them to a user's message (mentions become user elements). */
export function richTextBlocks(text: string): unknown[] {
  const elements: unknown[] = [];
  const re = /<@([A-Z0-9]+)(?:\|[^>]*)?>/g;
  let last = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m.index > last) elements.push({ type: "text", text: text.slice(last, m.index) });
    elements.push({ type: "user", user_id: m[1] });
    last = m.index + m[0].length;
  }
  if (last < text.length) elements.push({ type: "text", text: text.slice(last) });
  return [{ type: "rich_text", block_id: randomId("b", 3).toLowerCase(), elements: [{ type: "rich_text_section", elements }] }];
}

export class MessageStore {
  constructor(
    private readonly workspaces: Workspaces,
    private readonly clock: TsClock,
    private readonly appId: string,
  ) {}

  find(team: TeamState, channel: string, ts: string): StoredMessage | undefined {
    return team.messages.get(channel)?.find((m) => m.ts === ts);
  }

  /** A user's (or another bot's, with `botId`) message, threaded when `threadTs` is given. */
  storeUser(team: TeamState, input: UserMessageInput): StoredMessage {
    this.workspaces.ensureUser(team, input.user);
    this.workspaces.ensureChannel(team, input.channel);
    if (input.channelType !== undefined) {
      const channel = team.channels.get(input.channel);
      if (channel) channel.type = input.channelType;
    }
    const ts = this.clock.next();
    const message: StoredMessage = {
      ts,
      channel: input.channel,
      team: team.id,
      text: input.text,
      blocks: richTextBlocks(input.text),
      user: input.user,
      versions: [input.text],
      edits: 0,
      deleted: false,
      replyCount: 0,
      replyUsers: new Set(),
      reactions: new Map(),
      postParams: {},
      clientMsgId: randomBytes(16)
        .toString("hex")
        .replace(/(.{8})(.{4})(.{4})(.{4})(.{12})/, "$1-$2-$3-$4-$5"),
    };
    if (input.botId !== undefined) {
      message.botId = input.botId;
      message.appId = "A0OTHERAPP";
      delete message.clientMsgId;
    }
    if (input.subtype !== undefined) message.subtype = input.subtype;
    const threadTs = this.attachToThread(team, input.channel, input.threadTs, input.user, ts);
    if (threadTs !== undefined) message.threadTs = threadTs;
    this.insert(team, message);
    return message;
  }

  /** A message the bot posts (chat.postMessage, an in_channel command response). */
  storeBot(team: TeamState, channel: string, input: BotMessageInput): StoredMessage {
    this.workspaces.ensureChannel(team, channel);
    const ts = this.clock.next();
    const message: StoredMessage = {
      ts,
      channel,
      team: team.id,
      text: input.text,
      user: team.botUserId,
      botId: team.botId,
      appId: this.appId,
      versions: [input.text],
      edits: 0,
      deleted: false,
      replyCount: 0,
      replyUsers: new Set(),
      reactions: new Map(),
      postParams: { ...input.params },
    };
    if (input.blocks) message.blocks = input.blocks;
    if (input.attachments) message.attachments = input.attachments;
    const threadTs = this.attachToThread(team, channel, input.threadTs, team.botUserId, ts);
    if (threadTs !== undefined) {
      message.threadTs = threadTs;
      if (input.replyBroadcast) {
        message.replyBroadcast = true;
        message.subtype = "thread_broadcast";
      }
    }
    this.insert(team, message);
    return message;
  }

  private insert(team: TeamState, message: StoredMessage): void {
    let list = team.messages.get(message.channel);
    if (!list) {
      list = [];
      team.messages.set(message.channel, list);
    }
    list.push(message);
    list.sort((a, b) => compareTs(a.ts, b.ts));
  }

  /** Maps a reply's ts to its parent's, and counts the reply on the parent. */
  private attachToThread(
    team: TeamState,
    channel: string,
    threadTs: string | undefined,
    author: string | undefined,
    ts: string,
  ): string | undefined {
    if (threadTs === undefined || threadTs === "") return undefined;
    const target = this.find(team, channel, threadTs);
    const parentTs = target?.threadTs ?? threadTs;
    const parent = target?.threadTs !== undefined ? this.find(team, channel, parentTs) : target;
    if (parent) {
      parent.replyCount += 1;
      if (author !== undefined) parent.replyUsers.add(author);
      parent.latestReply = ts;
    }
    return parentTs;
  }
}
