/** Shapes used by the Slack simulator: options, what a test passes in, and what it reads back. */

/** A workspace the simulator hosts. Bot tokens `xoxb-<id>-…` belong to it. */
export interface SimTeamOptions {
  id: string;
  name?: string;
  /** Subdomain, used in `auth.test`'s url. Default: the name, lower-cased and dashed. */
  domain?: string;
  /** The bot user's id in this workspace (default: the simulator-wide one). */
  botUserId?: string;
  /** The bot's id in this workspace (default: the simulator-wide one). */
  botId?: string;
}

export interface SlackSimulatorOptions {
  /** Default: one workspace, `T1`. */
  teams?: SimTeamOptions[];
  /** Default `U0BOT`. */
  botUserId?: string;
  /** Default `B0BOT`. */
  botId?: string;
  /** Default `A0SIMAPP`. */
  appId?: string;
  /** The bot user's name (auth.test `user`). Default `qwenbot`. */
  botName?: string;
  /** Send a `message` event (with bot_id, user = bot user) for every message the bot posts. */
  echoBotPosts?: boolean;
  /** Send a `message_changed` (and `message_deleted`) event for every edit (delete) the bot makes. */
  echoBotEdits?: boolean;
  /**
   * `userMentions` also sends the plain `message` event Slack sends to apps subscribed to
   * `message.*` events (Slack sends both). Default true.
   */
  messageEventsForMentions?: boolean;
  /** The legacy verification token put in payloads. */
  verificationToken?: string;
  /** Send WebSocket pings to Socket Mode clients this often (ms); 0 (default) = never. */
  serverPingIntervalMs?: number;
}

/** One Web API request as the simulator saw it. */
export interface SimCall {
  method: string;
  params: Record<string, unknown>;
  /** The workspace the token belongs to, when known. */
  teamId?: string;
  token?: string;
  /** Date.now() when the request arrived. */
  time: number;
  /** HTTP status answered (200, 429, 500, …). */
  status: number;
  ok: boolean;
  error?: string;
  /** Retry-After (seconds) sent with a 429. */
  retryAfterSec?: number;
  /** The JSON body answered. */
  response?: unknown;
}

/** A message as a user of the workspace would see it. */
export interface SimMessage {
  ts: string;
  channel: string;
  team: string;
  /** Slack-style: replies carry their parent's ts; a parent with replies carries its own ts. */
  thread_ts?: string;
  /** True for a reply inside a thread (thread_ts set and different from ts). */
  reply: boolean;
  text: string;
  blocks?: unknown[];
  attachments?: unknown[];
  user?: string;
  bot_id?: string;
  app_id?: string;
  subtype?: string;
  reply_broadcast?: boolean;
  /** How many times the message was edited. */
  edits: number;
  /** Every text version, first to last. */
  versions: string[];
  deleted: boolean;
  reply_count: number;
  reactions: Array<{ name: string; users: string[]; count: number }>;
  /** Params the message was posted with (mrkdwn, unfurl_links, metadata, …). */
  postParams: Record<string, unknown>;
}

export interface SimEphemeral {
  channel: string;
  team: string;
  user: string;
  text: string;
  blocks?: unknown[];
  thread_ts?: string;
  message_ts: string;
  /** "api" for chat.postEphemeral, "response_url" or "ack" for command responses. */
  via: "api" | "response_url" | "ack";
}

export type EnvelopeType = "events_api" | "slash_commands" | "interactive";

export interface EnvelopeAck {
  envelopeId: string;
  /** The `payload` the client sent with its ack (Socket Mode), or the parsed HTTP response body. */
  payload?: unknown;
  /** Milliseconds from sending the envelope to receiving the ack. */
  ackMs: number;
  /** Date.now() at the ack. */
  at: number;
  /** HTTP delivery only: the status the app answered (0 when the request failed). */
  status?: number;
}

export interface SimResponseUrlPost {
  id: string;
  teamId: string;
  channel: string;
  body: unknown;
  time: number;
  /** 200 when taken, 404 once the URL's 5 uses are spent. */
  status: number;
}

export type FailSpec = { status: 429; retryAfterSec?: number } | { status: number; body?: string } | { error: string };

export interface MethodLimit {
  /** Calls allowed per minute (sets limit and a 60 s window). */
  perMinute?: number;
  /** Calls allowed per window. */
  limit?: number;
  /** Window length in ms (default 60000). */
  windowMs?: number;
  /** What the budget is shared by: the workspace (default, like Tier 3) or each channel. */
  per?: "team" | "channel";
}

/** Slack's conversation kinds: public channel, private channel, DM, group DM. */
export type ChannelType = "channel" | "group" | "im" | "mpim";

export interface EventOptions {
  /** 0 for a first delivery (default); Slack counts retries from 1. */
  retryAttempt?: number;
  /** e.g. "timeout", "http_error". Default "" (first delivery) or "timeout" (retries). */
  retryReason?: string;
  eventId?: string;
  eventTime?: number;
}

export interface SlashCommandInput {
  command: string;
  text?: string;
  user_id?: string;
  user_name?: string;
  channel_id?: string;
  channel_name?: string;
  [field: string]: unknown;
}

export interface UserMessageInput {
  channel: string;
  user: string;
  text: string;
  /** Make it a reply in this thread (a reply's ts is mapped to its parent, as Slack does). */
  threadTs?: string;
  /** Default from the channel id: C… "channel", G… "group", D… "im". */
  channelType?: ChannelType;
  /** Make it another bot's message (bot_id set). */
  botId?: string;
  subtype?: string;
}

export interface UserMentionInput {
  channel: string;
  user: string;
  /** `<@BOTUSERID> ` is put in front unless the text already mentions the bot. */
  text: string;
  threadTs?: string;
  /** Override the simulator's `messageEventsForMentions` for this call. */
  alsoMessageEvent?: boolean;
}

export interface ClickButtonInput {
  channel: string;
  /** The ts of the message that carries the button. */
  messageTs: string;
  actionId: string;
  value?: string;
  /** Default: the block in the stored message that holds the action, else "actions". */
  blockId?: string;
  user?: string;
}

export interface MessagesOptions {
  includeDeleted?: boolean;
}
