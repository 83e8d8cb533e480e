/** The inbox protocol's types (ConversationInbox.ts is the protocol; this is what its callers see). */
import type { ChatRequest, ChatTurn, ConversationKey, ReplyTarget } from "../types.ts";

export interface AppendLimits {
  /** How long a platform message id is remembered for dedupe. */
  dedupeTtlSeconds: number;
  /** How long a waiting request (and its reply state) is kept. */
  requestTtlSeconds: number;
  /** Most messages waiting in one conversation's inbox. */
  maxPendingPerConversation: number;
  /** Most messages one user may send per minute (0: no limit). */
  userMessagesPerMinute: number;
}

export type AppendOutcome =
  | { kind: "queued"; seq: number; ahead: number }
  | { kind: "duplicate" }
  | { kind: "full"; waiting: number }
  | { kind: "rateLimited"; sent: number };

/** A request whose place is reserved before its placeholder exists (the reply target comes with attach). */
export interface ReservedRequest {
  requestId: string;
  conversationKey: ConversationKey;
  /** Whose per-minute budget it counts against. */
  authorId: string;
  text: string;
  receivedAt: number;
}

/** What `start` found: the reply is the worker's now, gone from the line (withdrawn, committed), or still reserved. */
export type StartOutcome = "started" | "gone" | "reserved";

/**
 * The BullMQ job lock a worker holds while it answers a conversation ('' token: not fenced), and
 * the conversation's lease it took with it (ConversationLease: jobs in different queues).
 */
export interface JobLock {
  jobId: string;
  token: string;
  /** The job's queue (default: the shared chat queue). */
  queue?: string;
  /** The conversation's lease key and this attempt's value in it. */
  lease?: { key: string; value: string };
}

/**
 * An answer whose final text was decided (recorded before the final edit). A retry after a crash
 * between the final edit and the commit delivers and commits this same answer.
 */
export interface DecidedAnswer {
  text: string;
  note?: string;
  turns: ChatTurn[];
  dropOldest: number;
  replaceLastAssistant: boolean;
  epoch: string;
}

/** What a worker reads of a reply's state when it starts answering. */
export interface ReplyRecord {
  /** The platform messages holding the reply so far (absent: just the placeholder). */
  messages?: ReplyTarget[];
  decided?: DecidedAnswer;
  /** The place in line its placeholder was last given (0 or absent: it never showed one). */
  place?: number;
}

export type CommitOutcome = "OK" | "ALREADY_COMMITTED" | "LOCK_LOST" | "RESET_SINCE";

export interface CommitParams {
  conversationKey: ConversationKey;
  requestId: string;
  /** The memory's epoch when it was read ('' for none: no turns are written). */
  epochSeen: string;
  /** The job lock to fence on (undefined: not fenced). */
  lock: JobLock | undefined;
  turns: ChatTurn[];
  /** Oldest stored turns to drop (they no longer fit the context). */
  dropOldest: number;
  /** Regenerate: the new assistant turn replaces the stored last one. */
  replaceLastAssistant: boolean;
  memoryTtlSeconds: number;
  /** The reply state to set (default done; refused: answered with a refusal, e.g. too many tokens). */
  state?: "done" | "failed" | "refused";
}

export interface InboxDepth {
  conversationKey: ConversationKey;
  depth: number;
}

/**
 * The message at the head of an inbox; `request` is undefined when it expired before its turn, and
 * `reserved` is set while its placeholder is not attached yet (the request has no reply target).
 */
export interface InboxHead {
  requestId: string;
  request: ChatRequest | undefined;
  reserved?: boolean;
}
