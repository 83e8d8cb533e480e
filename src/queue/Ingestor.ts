/**
 * The adapters' side of the queue: validate a normalized message, drop duplicates, append it to
 * its conversation's inbox (arrival order; the protocol itself is ConversationInbox's) and make
 * sure a job says "this conversation has work".
 * One BullMQ job per conversation at a time (deduplicated by conversation key), so messages of
 * one conversation are answered one by one while conversations run in parallel.
 */
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Config } from "../config.ts";
import { INTAKE_TEXT } from "../intake/intakeMessages.ts";
import { type Keys, QUEUE_NAME } from "../keys.ts";
import { isBlankText } from "../text/normalizeUserText.ts";
import type { ChatRequest, ConversationKey } from "../types.ts";
import { type AppendOutcome, ConversationInbox } from "./ConversationInbox.ts";

export interface IngestOptions {
  /** Longest message accepted, in characters (MAX_INPUT_CHARS). */
  maxInputChars: number;
  /** Most messages waiting in one conversation's inbox. */
  maxPendingPerConversation?: number;
  /** Most messages one user may send per minute (0: no limit). */
  userMessagesPerMinute?: number;
  /** How long a platform message id is remembered for dedupe. */
  dedupeTtlSeconds?: number;
  /** How long a waiting request is kept. */
  requestTtlSeconds?: number;
}

/** Why a message was not queued; each comes with a text that is safe to show the sender. */
export type IngestRefusalCode =
  | "EMPTY_MESSAGE"
  | "MESSAGE_TOO_LONG"
  | "DUPLICATE_MESSAGE"
  | "RATE_LIMITED"
  | "QUEUE_FULL"
  | "REDIS_UNAVAILABLE"
  // /imagine only (src/intake/ImagineIntake.ts): an option out of range, no image engine set up.
  | "IMAGE_OPTION_INVALID"
  | "IMAGE_ENGINE_NOT_CONFIGURED";

export interface IngestRefusal {
  status: "refused";
  code: IngestRefusalCode;
  /** Safe to show the sender. */
  userMessage: string;
  /** For logs only (never shown): the underlying error of a REDIS_UNAVAILABLE. */
  detail?: string;
}

export interface IngestQueued {
  /**
   * "queued": in the inbox and the workers signalled. "queued-unsignalled": in the inbox, but the
   * job that wakes the workers could not be added; the workers' sweeper adds it, so the message
   * is answered all the same (it is not a refusal).
   */
  status: "queued" | "queued-unsignalled";
  /** Messages of the same conversation ahead of this one (0: it is next). */
  ahead: number;
  seq: number;
  /** For logs only: why the workers were not signalled. */
  detail?: string;
}

/** What `Ingestor.ingest` did with a message. Expected cases are outcomes, never thrown. */
export type IngestOutcome = IngestQueued | IngestRefusal;

const refused = (code: IngestRefusalCode, userMessage: string, detail?: string): IngestRefusal =>
  detail === undefined ? { status: "refused", code, userMessage } : { status: "refused", code, userMessage, detail };
const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Ingest options from the config. Local surfaces (the operator's own terminal) have no per-user rate limit. */
export function ingestOptionsFrom(
  config: Pick<Config, "MAX_INPUT_CHARS" | "MAX_PENDING_PER_CONVERSATION" | "USER_MESSAGES_PER_MINUTE" | "MEMORY_TTL_SECONDS">,
  opts: { rateLimit: boolean },
): IngestOptions {
  return {
    maxInputChars: config.MAX_INPUT_CHARS,
    maxPendingPerConversation: config.MAX_PENDING_PER_CONVERSATION,
    userMessagesPerMinute: opts.rateLimit ? config.USER_MESSAGES_PER_MINUTE : 0,
  };
}

export function jobOptionsFor(conversationKey: ConversationKey) {
  return {
    deduplication: { id: conversationKey, keepLastIfActive: true },
    attempts: 20,
    backoff: { type: "exponential" as const, delay: 500 },
    removeOnComplete: { count: 1000 },
    removeOnFail: { count: 5000 },
  };
}

/** The chat queue, as producers see it. */
export function createChatQueue(redis: Redis, keys: Keys): Queue {
  return new Queue(QUEUE_NAME, { connection: redis, prefix: keys.bull });
}

export class Ingestor {
  private readonly inbox: ConversationInbox;

  constructor(
    redis: Redis,
    private readonly queue: Queue,
    keys: Keys,
    private readonly opts: IngestOptions,
  ) {
    this.inbox = new ConversationInbox(redis, keys);
  }

  /** What must never be queued (empty, too long): the refusal, or null when the text may be queued. */
  check(text: string): IngestRefusal | null {
    // Whitespace and invisible characters only (zero-width spaces, U+3000, U+FEFF, …) count as empty.
    if (isBlankText(text)) return refused("EMPTY_MESSAGE", INTAKE_TEXT.empty);
    if (text.length > this.opts.maxInputChars)
      return refused("MESSAGE_TOO_LONG", INTAKE_TEXT.tooLong(text.length, this.opts.maxInputChars));
    return null;
  }

  /**
   * Queue a message: the refusal (invalid, duplicate, rate-limited, inbox full, Redis down), or
   * its place in line. Throws only on the unexpected (a bug), never for these cases.
   */
  async ingest(request: ChatRequest): Promise<IngestOutcome> {
    const invalid = this.check(request.text);
    if (invalid) return invalid;
    let res: AppendOutcome;
    try {
      res = await this.inbox.append(request, {
        dedupeTtlSeconds: this.opts.dedupeTtlSeconds ?? 24 * 3600,
        requestTtlSeconds: this.opts.requestTtlSeconds ?? 7 * 24 * 3600,
        maxPendingPerConversation: this.opts.maxPendingPerConversation ?? 20,
        userMessagesPerMinute: this.opts.userMessagesPerMinute ?? 0,
      });
    } catch (err) {
      return refused("REDIS_UNAVAILABLE", INTAKE_TEXT.unavailable, `could not queue the message: ${errorText(err)}`);
    }
    if (res.kind === "duplicate") return refused("DUPLICATE_MESSAGE", INTAKE_TEXT.duplicate);
    if (res.kind === "rateLimited") return refused("RATE_LIMITED", INTAKE_TEXT.rateLimited(res.sent));
    if (res.kind === "full") return refused("QUEUE_FULL", INTAKE_TEXT.queueFull(res.waiting));
    const { ahead, seq } = res;
    try {
      await this.queue.add("turn", { conversationKey: request.conversationKey }, jobOptionsFor(request.conversationKey));
    } catch (err) {
      // The message is safely in the inbox: the workers' sweeper adds the job. Not a refusal.
      return { status: "queued-unsignalled", ahead, seq, detail: `could not signal the workers: ${errorText(err)}` };
    }
    return { status: "queued", ahead, seq };
  }

  /** Ask the worker generating `requestId` to stop (the partial answer stays). */
  async stop(requestId: string): Promise<void> {
    await this.inbox.requestStop(requestId);
  }
}
