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
import { InputRejectedError, RedisUnavailableError } from "../errors.ts";
import { type Keys, QUEUE_NAME } from "../keys.ts";
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

export interface IngestResult {
  /** Messages of the same conversation ahead of this one (0: it is next). */
  ahead: number;
  seq: number;
}

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

  /** Reject what must never be queued; returns the text to queue. */
  validate(text: string): string {
    if (text.trim().length === 0) {
      throw new InputRejectedError("EMPTY_MESSAGE", "Your message is empty — write a question after the mention.");
    }
    if (text.length > this.opts.maxInputChars) {
      throw new InputRejectedError(
        "MESSAGE_TOO_LONG",
        `Your message is ${text.length.toLocaleString("en-US")} characters; the most I accept is ${this.opts.maxInputChars.toLocaleString("en-US")}. Please shorten it.`,
      );
    }
    return text;
  }

  async ingest(request: ChatRequest): Promise<IngestResult> {
    this.validate(request.text);
    let res: AppendOutcome;
    try {
      res = await this.inbox.append(request, {
        dedupeTtlSeconds: this.opts.dedupeTtlSeconds ?? 24 * 3600,
        requestTtlSeconds: this.opts.requestTtlSeconds ?? 7 * 24 * 3600,
        maxPendingPerConversation: this.opts.maxPendingPerConversation ?? 20,
        userMessagesPerMinute: this.opts.userMessagesPerMinute ?? 0,
      });
    } catch (err) {
      throw new RedisUnavailableError(`could not queue the message: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if (res.kind === "duplicate") throw new InputRejectedError("DUPLICATE_MESSAGE", "This message was already received.");
    if (res.kind === "rateLimited") {
      throw new InputRejectedError(
        "RATE_LIMITED",
        `You're sending messages faster than I can answer (${res.sent} in the last minute). Please wait a moment and try again.`,
      );
    }
    if (res.kind === "full") {
      throw new InputRejectedError(
        "QUEUE_FULL",
        `This conversation already has ${res.waiting} messages waiting. Please wait for the answers before sending more.`,
      );
    }
    try {
      await this.queue.add("turn", { conversationKey: request.conversationKey }, jobOptionsFor(request.conversationKey));
    } catch (err) {
      // The message is safely in the inbox: the sweeper will add the job. Still tell the caller.
      throw new RedisUnavailableError(`queued, but could not signal the workers: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
    return { ahead: res.ahead, seq: res.seq };
  }

  /** Ask the worker generating `requestId` to stop (the partial answer stays). */
  async stop(requestId: string): Promise<void> {
    await this.inbox.requestStop(requestId);
  }
}
