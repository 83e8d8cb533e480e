/**
 * Rate-limit state shared by every process that writes to one platform (the adapter posting
 * placeholders, every worker editing replies), through Redis: what the platform's last answer said
 * of a bucket (requests left, when it resets) and how long a 429 blocks it. A process consults it
 * before sending, so a 429 one of them learned of is not run into by another — and a sender with a
 * lower priority (a place-in-line update) can leave the last requests of a window to the reply
 * that streams. Advisory: when Redis does not answer, nothing waits.
 *
 * Buckets are named by the platform side (e.g. Discord: `discord:PATCH /channels/:id/messages/:id:<channel>`).
 */
import type { Redis } from "ioredis";
import type { Keys } from "../keys.ts";

/** Keep a bucket's state a little past its reset, in case clocks differ between processes. */
const LINGER_MS = 1000;

/** HSET the fields, and expire the key at the latest time given (never earlier than it already would). */
const NOTE_LUA = `
local at = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
local ttl = redis.call('PTTL', KEYS[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ttl < 0 or now + ttl < at then redis.call('PEXPIREAT', KEYS[1], at) end
return 1
`;

type NoteRedis = Redis & { rateNote(key: string, ...args: Array<string | number>): Promise<number> };

export interface BucketState {
  remaining?: number;
  resetAt?: number;
  blockedUntil?: number;
}

export class SharedRateLimits {
  private readonly redis: NoteRedis;

  constructor(
    redis: Redis,
    private readonly keys: Keys,
  ) {
    if (!("rateNote" in redis)) redis.defineCommand("rateNote", { numberOfKeys: 1, lua: NOTE_LUA });
    this.redis = redis as NoteRedis;
  }

  /** A response said: `remaining` requests left in `bucket` until `resetAt` (ms since the epoch). */
  async note(bucket: string, remaining: number, resetAt: number): Promise<void> {
    await this.redis
      .rateNote(this.keys.rateBucket(bucket), resetAt + LINGER_MS, "remaining", remaining, "resetAt", resetAt)
      .catch(() => undefined);
  }

  /** A 429: nobody sends in `bucket` before `until` (ms since the epoch). */
  async block(bucket: string, until: number): Promise<void> {
    const key = this.keys.rateBucket(bucket);
    const current = Number((await this.redis.hget(key, "blockedUntil").catch(() => null)) ?? 0);
    if (current >= until) return;
    await this.redis.rateNote(key, until + LINGER_MS, "blockedUntil", until).catch(() => undefined);
  }

  async state(bucket: string): Promise<BucketState> {
    const h = await this.redis.hgetall(this.keys.rateBucket(bucket)).catch(() => ({}) as Record<string, string>);
    const out: BucketState = {};
    if (h.remaining !== undefined) out.remaining = Number(h.remaining);
    if (h.resetAt !== undefined) out.resetAt = Number(h.resetAt);
    if (h.blockedUntil !== undefined) out.blockedUntil = Number(h.blockedUntil);
    return out;
  }

  /**
   * How long to wait before sending in `bucket` (0: go now): until a 429's block ends, or — when no
   * more than `reserve` requests are left in the window — until the window resets.
   */
  async waitMs(bucket: string, reserve = 0, now = Date.now()): Promise<number> {
    const s = await this.state(bucket);
    let until = s.blockedUntil ?? 0;
    if (s.remaining !== undefined && s.resetAt !== undefined && s.remaining <= reserve) until = Math.max(until, s.resetAt);
    return Math.max(0, until - now);
  }
}
