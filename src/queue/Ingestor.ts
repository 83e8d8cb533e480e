/**
 * The adapters' side of the queue: validate a normalized message, drop duplicates, append it to
 * its conversation's inbox (arrival order) and make sure a job says "this conversation has work".
 * One BullMQ job per conversation at a time (deduplicated by conversation key), so messages of
 * one conversation are answered one by one while conversations run in parallel.
 */
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Config } from "../config.ts";
import { InputRejectedError, RedisUnavailableError } from "../errors.ts";
import { type Keys, QUEUE_NAME } from "../keys.ts";
import type { ChatRequest, ConversationKey } from "../types.ts";

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

const APPEND = `
-- KEYS: dedupe, inbox, request, seq, inboxes, rate
-- ARGV: requestId, json, dedupeTtl, requestTtl, cap, conversationKey, perMinute
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[3]) == false then return {-1, 0} end
local limit = tonumber(ARGV[7])
if limit > 0 then
  local used = redis.call('INCR', KEYS[6])
  if used == 1 then redis.call('EXPIRE', KEYS[6], 120) end
  if used > limit then redis.call('DEL', KEYS[1]); return {-3, used - 1} end
end
local n = redis.call('ZCARD', KEYS[2])
if n >= tonumber(ARGV[5]) then redis.call('DEL', KEYS[1]); return {-2, n} end
local seq = redis.call('INCR', KEYS[4])
redis.call('ZADD', KEYS[2], seq, ARGV[1])
redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[4])
redis.call('SADD', KEYS[5], ARGV[6])
return {seq, n}
`;

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
  constructor(
    private readonly redis: Redis,
    private readonly queue: Queue,
    private readonly keys: Keys,
    private readonly opts: IngestOptions,
  ) {}

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
    const k = this.keys;
    let res: [number, number];
    try {
      res = (await this.redis.eval(
        APPEND,
        6,
        k.dedupe(request.requestId),
        k.inbox(request.conversationKey),
        k.request(request.requestId),
        k.seq,
        k.inboxes,
        k.rate(`${request.reply.platform}:${request.author.id}`, Math.floor(request.receivedAt / 60_000)),
        request.requestId,
        JSON.stringify(request),
        String(this.opts.dedupeTtlSeconds ?? 24 * 3600),
        String(this.opts.requestTtlSeconds ?? 7 * 24 * 3600),
        String(this.opts.maxPendingPerConversation ?? 20),
        request.conversationKey,
        String(this.opts.userMessagesPerMinute ?? 0),
      )) as [number, number];
    } catch (err) {
      throw new RedisUnavailableError(`could not queue the message: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    const [seq, ahead] = res;
    if (seq === -1) throw new InputRejectedError("DUPLICATE_MESSAGE", "This message was already received.");
    if (seq === -3) {
      throw new InputRejectedError(
        "RATE_LIMITED",
        `You're sending messages faster than I can answer (${ahead} in the last minute). Please wait a moment and try again.`,
      );
    }
    if (seq === -2) {
      throw new InputRejectedError(
        "QUEUE_FULL",
        `This conversation already has ${ahead} messages waiting. Please wait for the answers before sending more.`,
      );
    }
    await this.redis.hset(k.reply(request.requestId), "state", "queued");
    await this.redis.expire(k.reply(request.requestId), this.opts.requestTtlSeconds ?? 7 * 24 * 3600);
    try {
      await this.queue.add("turn", { conversationKey: request.conversationKey }, jobOptionsFor(request.conversationKey));
    } catch (err) {
      // The message is safely in the inbox: the sweeper will add the job. Still tell the caller.
      throw new RedisUnavailableError(`queued, but could not signal the workers: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
    return { ahead, seq };
  }

  /** Ask the worker generating `requestId` to stop (the partial answer stays). */
  async stop(requestId: string): Promise<void> {
    await this.redis.multi().set(this.keys.stopped(requestId), "1", "EX", 3600).publish(this.keys.stopChannel, requestId).exec();
  }
}
