/** Shapes used by the Discord simulator: world state, recordings and options. */

export type Json = Record<string, unknown>;

export interface SimUser {
  id: string;
  username: string;
  bot?: boolean;
  global_name?: string | null;
}

export interface SimRole {
  id: string;
  name: string;
  /** permission bit set as a decimal string (Discord's wire format) */
  permissions?: string;
  position?: number;
}

export interface SimPermissionOverwrite {
  /** role id or user id */
  id: string;
  /** 0 role, 1 member */
  type: 0 | 1;
  allow: string;
  deny: string;
}

export interface SimChannelInput {
  id: string;
  name: string;
  /** 0 text, 2 voice, 4 category, 5 announcement, 10/11/12 threads, 15 forum */
  type: number;
  parent_id?: string | null;
  topic?: string | null;
  permission_overwrites?: SimPermissionOverwrite[];
}

export interface SimGuildMemberInput {
  user: SimUser;
  roles?: string[];
  nick?: string | null;
}

export interface SimGuildInput {
  id: string;
  name: string;
  channels: SimChannelInput[];
  roles?: SimRole[];
  members?: SimGuildMemberInput[];
  ownerId?: string;
  /** threads active in the guild (type 11 public / 12 private, with parent_id) */
  threads?: Array<{ id: string; name: string; parent_id: string; type?: 11 | 12; owner_id?: string }>;
}

/** One version of a message's visible content (create or edit). */
export interface MessageVersion {
  kind: "create" | "edit";
  content: string;
  components: unknown[];
  embeds: unknown[];
  flags: number;
  /** allowed_mentions as sent with this create/edit (undefined when absent) */
  allowedMentions: unknown;
  /** users actually pinged by this version (after allowed_mentions) */
  mentionedUserIds: string[];
  mentionEveryone: boolean;
  mentionRoleIds: string[];
  /** Date.now() when the version was stored */
  at: number;
  /** ISO timestamp Discord would report */
  timestamp: string;
}

/** The current state of a message, as a user in the channel sees it. */
export interface MessageRecord {
  id: string;
  channelId: string;
  guildId: string | null;
  authorId: string;
  authorIsBot: boolean;
  content: string;
  components: unknown[];
  embeds: unknown[];
  attachments: unknown[];
  flags: number;
  type: number;
  messageReference: { message_id: string; channel_id: string; guild_id?: string; type?: number } | null;
  /** number of edits after the create */
  edits: number;
  /** allowed_mentions of the last create/edit */
  allowedMentions: unknown;
  mentionedUserIds: string[];
  mentionEveryone: boolean;
  mentionRoleIds: string[];
  /** true for interaction responses only the invoking user sees */
  ephemeral: boolean;
  /** only the invoking user of an ephemeral response sees it */
  visibleTo: string | null;
  /** interaction id when the message is an interaction response */
  interactionId: string | null;
  deleted: boolean;
  /** id of the thread started from this message */
  threadId: string | null;
  createdAt: number;
  editedAt: number | null;
}

export interface RequestRecord {
  method: string;
  /** path without `/api` and `/vN`, without the query */
  path: string;
  query: string;
  status: number;
  /** Date.now() when the request arrived */
  time: number;
  body: unknown;
  /** the Authorization header as received (null when absent) */
  auth: string | null;
  /** true when the answer was a scripted fault (failNext, failAfterCommit) */
  scripted: boolean;
  /** set when the route saved its write and a `failAfterCommit` fault answered instead */
  afterCommit?: { committedStatus: number; answered: CommitFaultAnswer };
}

export interface CommandRecord {
  id: string;
  application_id: string;
  guild_id?: string;
  name: string;
  description: string;
  type: number;
  options?: unknown[];
  [key: string]: unknown;
}

export interface InteractionResponseRecord {
  interactionId: string;
  token: string;
  /** callback: POST /interactions/:id/:token/callback; others: webhook routes */
  kind: "callback" | "editOriginal" | "deleteOriginal" | "followup" | "editFollowup" | "deleteFollowup";
  /** callback type (4 reply, 5 deferred, 6 deferred update, 7 update, 9 modal …); null for webhook routes */
  type: number | null;
  ephemeral: boolean;
  content: string | null;
  components: unknown[] | null;
  flags: number;
  /** id of the message created or edited, when any */
  messageId: string | null;
  status: number;
  body: unknown;
  time: number;
}

export interface TypingRecord {
  channelId: string;
  time: number;
}

export interface IdentifyRecord {
  sessionId: string;
  intents: number;
  shard: [number, number] | null;
  token: string;
  compress: boolean;
  properties: unknown;
  time: number;
}

export interface ResumeRecord {
  sessionId: string;
  seq: number;
  /** whether the server accepted it (false → INVALID_SESSION sent) */
  accepted: boolean;
  /** dispatches replayed (not counting RESUMED) */
  replayed: number;
  time: number;
}

export interface GatewayConnectionRecord {
  /** URL path the client connected to (`/` for the gateway URL, `/resume` for resume_gateway_url) */
  path: string;
  query: Record<string, string>;
  time: number;
  closeCode: number | null;
}

export interface DispatchRecord {
  sessionId: string;
  s: number;
  t: string;
  d: unknown;
  /** whether it went out on a live socket (false: logged while disconnected) */
  delivered: boolean;
  /** true when it was sent again in a RESUME replay */
  replay: boolean;
  time: number;
}

/**
 * What the client gets after the route has saved its write (`failAfterCommit`), as Discord does
 * during incidents: a 5xx (discord.js retries it), a TCP reset (ECONNRESET: discord.js retries), a
 * socket closed without an answer (undici "other side closed": discord.js does not retry and the
 * call rejects), or no answer at all (the client's REST `timeout` aborts and retries; the socket is
 * destroyed after `ms` when given, else left open until the client gives up or the sim stops).
 */
export type CommitFault = { status: 500 | 502 | 503 | 504 } | { drop: "reset" | "close" } | { hang: true; ms?: number };

export type CommitFaultAnswer = 500 | 502 | 503 | 504 | "reset" | "close" | "hang";

/** One write that was saved and then answered with a fault (see `failAfterCommit`). */
export interface AfterCommitRecord {
  method: string;
  path: string;
  /** what the route answered before the fault replaced it */
  committedStatus: number;
  answered: CommitFaultAnswer;
  /** messages created, edited or deleted by the saved write */
  messageIds: string[];
  time: number;
}

export type FailResponse =
  | { status: 429; retryAfterSec: number; global?: boolean; scope?: "user" | "shared" | "global" }
  | { status: 500 | 502 | 503 | 504 }
  | { status: 400 | 401 | 403 | 404; code: number; message: string };

export interface StartOptions {
  botUserId?: string;
  botUsername?: string;
  applicationId?: string;
  heartbeatIntervalMs?: number;
  /** when set, REST and IDENTIFY must carry this token (`Bot <token>` on REST) */
  token?: string;
  /** privileged intents the application has enabled in the portal; requesting others closes with 4014 (default: all) */
  allowedPrivilegedIntents?: number;
  /** ms within which an interaction must get its initial callback (default 3000); later → 404 Unknown interaction */
  interactionAckTimeoutMs?: number;
  /** how long a message nonce is remembered for `enforce_nonce` (default 120000: "the past few minutes") */
  nonceTtlMs?: number;
  /** largest file the bot may upload, in bytes (default 10 MiB, Discord's default); over it → 413 40005 */
  attachmentSizeLimit?: number;
  /** `shards` in GET /gateway/bot (default 1) */
  recommendedShards?: number;
  /** `session_start_limit.max_concurrency` (default 1): IDENTIFYs allowed per 5 s per bucket (shard id % max_concurrency) */
  maxConcurrency?: number;
  /** answer a second IDENTIFY in the same bucket within 5 s with INVALID_SESSION, as Discord does (default false) */
  enforceMaxConcurrency?: boolean;
  /** guilds one session may hold before IDENTIFY closes with 4011 Sharding required (default 2500) */
  maxGuildsPerShard?: number;
}

/** A file the bot uploaded (its bytes: `attachmentData(attachmentId)`). */
export interface UploadRecord {
  attachmentId: string;
  messageId: string;
  channelId: string;
  filename: string;
  contentType: string;
  size: number;
  description: string | null;
  time: number;
}
