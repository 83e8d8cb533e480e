/**
 * The per-workspace budget for `chat.update` (Tier 3: ~50 a minute per app per workspace), shared
 * by every reply streaming in that workspace and by every worker process: it lives in Redis.
 *
 * Two steps, each one Lua call on Redis' clock:
 * 1. reserve — the caller takes the workspace's next free slot and sleeps until it. Slots are
 *    `(windowMs + margin) / limit` apart: edits are evenly spaced rather than burst, and live
 *    replies share the budget first come, first served, across processes.
 * 2. confirm — right before the call goes out, the send is recorded in a log of recent sends,
 *    only if fewer than `limit` were sent in the last `windowMs + margin` and the previous one is
 *    at least half a slot ago; otherwise the caller waits and confirms again. This is the hard
 *    cap: timers that fire late and together (a busy event loop) cannot bunch calls up.
 * A 429 blocks the whole workspace until its Retry-After has passed.
 */
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type { SlackKeys } from "../../src/keys.ts";

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

const RESERVE = `
-- KEYS: next free slot   ARGV: intervalMs, ttlMs
${NOW}
local nextFree = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, nextFree)
redis.call('SET', KEYS[1], string.format('%.0f', slot + tonumber(ARGV[1])), 'PX', ARGV[2])
return slot - now
`;

const CONFIRM = `
-- KEYS: send log, blocked-until   ARGV: windowMs, limit, minGapMs, member
${NOW}
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > now then return blocked - now end
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - window))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] ~= nil and now - tonumber(last[2]) < tonumber(ARGV[3]) then
  return tonumber(ARGV[3]) - (now - tonumber(last[2]))
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window * 2)
return 0
`;

const BLOCK = `
-- KEYS: blocked-until   ARGV: delayMs
${NOW}
local until_ = now + tonumber(ARGV[1])
if until_ > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], string.format('%.0f', until_), 'PX', ARGV[1])
end
return 0
`;

export interface SlackEditBudgetOptions {
  /** Calls allowed per window (SLACK_EDITS_PER_MINUTE). */
  limit: number;
  /** The window (default 60 000 ms; tests shrink it). */
  windowMs?: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class SlackEditBudget {
  /** Milliseconds between two slots of one workspace. */
  readonly intervalMs: number;
  private readonly limit: number;
  /** The window the cap is enforced over: the platform's, plus a margin for network jitter. */
  private readonly capWindowMs: number;
  private readonly ttlMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly keys: SlackKeys,
    options: SlackEditBudgetOptions,
  ) {
    const windowMs = options.windowMs ?? 60_000;
    this.limit = Math.max(1, options.limit);
    this.capWindowMs = windowMs + Math.min(1000, Math.max(250, Math.ceil(windowMs / 20)));
    this.intervalMs = Math.ceil(this.capWindowMs / this.limit);
    this.ttlMs = windowMs * 2 + 60_000;
  }

  /** Reserve the workspace's next slot; returns how long to wait for it (ms). */
  async reserve(teamId: string): Promise<number> {
    return Number(await this.redis.eval(RESERVE, 1, this.keys.editBudget(teamId), String(this.intervalMs), String(this.ttlMs)));
  }

  /** Record a send now if the cap allows; else how long to wait before asking again (ms). */
  async confirm(teamId: string): Promise<number> {
    const member = `${Date.now()}-${randomBytes(4).toString("hex")}`;
    return Number(
      await this.redis.eval(
        CONFIRM,
        2,
        this.keys.editBudgetLog(teamId),
        this.keys.editBudgetBlocked(teamId),
        String(this.capWindowMs),
        String(this.limit),
        String(Math.floor(this.intervalMs / 2)),
        member,
      ),
    );
  }

  /** Take a slot and wait until a call may go out. */
  async acquire(teamId: string): Promise<void> {
    const wait = await this.reserve(teamId);
    if (wait > 0) await sleep(wait);
    for (;;) {
      const more = await this.confirm(teamId);
      if (more <= 0) return;
      await sleep(more);
    }
  }

  /** Slack said 429: nobody in this workspace edits before `delayMs` from now. */
  async penalize(teamId: string, delayMs: number): Promise<void> {
    await this.redis.eval(BLOCK, 1, this.keys.editBudgetBlocked(teamId), String(Math.max(1, Math.ceil(delayMs))));
  }
}
