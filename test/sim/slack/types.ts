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
  /**
   * The bot token's scopes in this workspace. Default: every scope (no `missing_scope`). When set, a
   * method whose documented bot scope is not in the list answers `missing_scope` (with `needed` and
   * `provided`), and file downloads need `files:read`.
   */
  scopes?: string[];
  /** Largest file upload the workspace accepts, in bytes (default 1 GiB, Slack's limit). */
  maxUploadBytes?: number;
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
  /**
   * Rate tiers as Slack documents them (Tier 1 1/min, Tier 2 20/min, Tier 3 50/min, Tier 4 100/min per
   * method per workspace; chat.postMessage 1/s per channel). "new" (default) enforces them for the
   * methods added with streaming, the assistant, files and views only (older tests predate tiers);
   * "all" for every method; "off" for none. `setMethodLimit` always wins over a tier.
   */
  rateTiers?: RateTierMode;
  /** A stream that got no start/append for this long is closed by "Slack" (ms). Default 300000. */
  streamIdleTimeoutMs?: number;
  /** A stream older than this is closed by "Slack" (ms). Default 300000. */
  streamMaxAgeMs?: number;
  /** Send a `message_changed` for every chat.appendStream (with echoBotEdits). Default false. */
  echoStreamAppends?: boolean;
  /** An assistant status with no reply after it disappears after this long (ms). Default 120000. */
  assistantStatusTimeoutMs?: number;
  /** A trigger_id can open a view for this long (ms). Default 3000. */
  triggerTtlMs?: number;
  /**
   * The app is a commercially distributed non-Marketplace app (Slack's rules since 2025-05-29):
   * conversations.history / .replies allow 1 request a minute and at most 15 messages a page.
   */
  nonMarketplaceApp?: boolean;
}

export type RateTierMode = "new" | "all" | "off";

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
  /** The JSON body answered (for a fault after commit: what would have been answered). */
  response?: unknown;
  /** The method ran (its effect is stored) although the client saw a failure (fault after commit). */
  committed?: boolean;
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
  /** Files on the message (a user's upload, or the bot's files.completeUploadExternal share). */
  files?: SimFileView[];
  /** Message metadata (`{event_type, event_payload}`), as posted or updated. */
  metadata?: unknown;
  /** For a message made by chat.startStream: the stream's state as the user sees it. */
  stream?: SimStreamView;
  /** For the root message of an assistant thread: its title. */
  assistantTitle?: string;
}

/** The state of a streamed message. `versions` of the message hold its text after each call. */
export interface SimStreamView {
  /** "streaming" until stopStream; "expired" once Slack closed it (idle or age limit); "stopped" after stopStream. */
  state: "streaming" | "stopped" | "expired";
  startedAt: number;
  /** Date.now() of the last start/append. */
  lastActivityAt: number;
  /** appendStream calls accepted. */
  appends: number;
  /** Every chunk received (markdown_text params become `{type: "markdown_text", text}`), in order. */
  chunks: unknown[];
  recipientUserId?: string;
  recipientTeamId?: string;
  /** Blocks passed to stopStream (rendered under the streamed text). */
  stopBlocks?: unknown[];
  /** Text beyond 40,000 characters was cut (Slack's `message_truncated` warning). */
  truncated?: boolean;
}

/** A file as a test reads it back. */
export interface SimFileView {
  id: string;
  name: string;
  title: string;
  mimetype: string;
  filetype: string;
  size: number;
  user: string;
  url_private: string;
  deleted: boolean;
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

/**
 * A scripted failure. `{status: 429}` → HTTP 429 with Retry-After; `{status}` → that HTTP status;
 * `{error}` → 200 `{ok: false, error}`; `{hang: true}` → no answer (the socket is cut after `hangMs`,
 * else left open until the client gives up or the simulator stops). With `afterCommit: true` the
 * method runs first (a post is stored, its events sent) and only then the client sees the failure —
 * what Slack does in an incident, so a client's retry makes a visible duplicate.
 */
export type FailSpec =
  | { status: 429; retryAfterSec?: number }
  | { status: number; body?: string; afterCommit?: boolean }
  | { error: string }
  | { hang: true; hangMs?: number; afterCommit?: boolean };

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

/** A file a user attaches to a message (`userMessage` / `userMentions` `files`). */
export interface SimFileInput {
  name: string;
  /** The bytes. Without content, `size` bytes of filler are served. */
  content?: string | Buffer;
  /** Bytes, when there is no content (a huge file costs no memory). */
  size?: number;
  /** Default from the extension (what Slack would detect). */
  mimetype?: string;
  /** Slack's file type ("text", "markdown", "javascript", "png", "binary", …). Default from the extension. */
  filetype?: string;
  title?: string;
  /** How downloading it misbehaves (also settable later with `setFileFault`). */
  fault?: FileFault;
}

/**
 * How a file download misbehaves: `status` (e.g. 404, 500) answered instead of the bytes; `slow`
 * (wait `delayMs` before the first byte, then `bytesPerSec`); `hang` (no answer, or headers and
 * `afterBytes` bytes, then nothing); `reset` (the connection is cut after `afterBytes`); `huge`
 * (`bytes` bytes of filler instead of the file, no Content-Length when `noLength`); `contentType`
 * (served with this Content-Type, e.g. text/html).
 */
export type FileFault =
  | { kind: "status"; status: number }
  | { kind: "slow"; delayMs?: number; bytesPerSec?: number }
  | { kind: "hang"; afterBytes?: number }
  | { kind: "reset"; afterBytes?: number }
  | { kind: "huge"; bytes: number; noLength?: boolean }
  | { kind: "contentType"; contentType: string };

/** One GET of a file URL. */
export interface SimFileDownload {
  fileId: string;
  teamId: string;
  /** A bot token of the file's workspace (with files:read, when scopes are set) came with it. */
  authorized: boolean;
  /** The status answered (302 to the sign-in page when not authorized). */
  status: number;
  at: number;
}

/** What a user sees of an assistant thread (the AI app split view). */
export interface SimAssistantThread {
  channel: string;
  threadTs: string;
  user: string;
  /** The status shown now ("" when none: cleared, replied to, or timed out). */
  status: string;
  /** Every status set, in order ("" for a clear). */
  statusHistory: string[];
  loadingMessages?: string[];
  title?: string;
  prompts?: Array<{ title: string; message: string }>;
  promptsTitle?: string;
}

/** A modal opened with views.open (and updated with views.update). */
export interface SimView {
  id: string;
  teamId: string;
  user: string;
  view: Record<string, unknown>;
  /** Every version, first to last. */
  versions: Array<Record<string, unknown>>;
  closed: boolean;
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
  /** Files attached (the message gets subtype `file_share` and a `files` array). */
  files?: SimFileInput[];
}

export interface UserMentionInput {
  channel: string;
  user: string;
  /** `<@BOTUSERID> ` is put in front unless the text already mentions the bot. */
  text: string;
  threadTs?: string;
  /** Override the simulator's `messageEventsForMentions` for this call. */
  alsoMessageEvent?: boolean;
  /** Files attached to the mention. */
  files?: SimFileInput[];
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
