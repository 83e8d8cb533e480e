/**
 * A per-workspace budget for one kind of Slack call, shared by every reply in that workspace and
 * by every worker process: it lives in Redis. Two of them: `chat.update` / posts (Tier 3: ~50 a
 * minute per app per workspace, SLACK_EDITS_PER_MINUTE) and the native streams' appends
 * (`chat.appendStream`, Tier 4: "100+", SLACK_STREAM_UPDATES_PER_MINUTE).
 *
 * Two steps, each one Lua call on Redis' clock:
 * 1. reserve — the caller takes the workspace's next free slot and sleeps until it. Slots are
 *    `(windowMs + margin) / limit` apart: edits are evenly spaced rather than burst, and live
 *    replies share the budget first come, first served, across processes.
 * 2. confirm — right before the call goes out, the send is recorded in a log of recent sends,
 *    only if fewer than `limit` were sent in the last `windowMs + margin` and the previous one is
 *    at least half a slot ago; otherwise the caller waits and confirms again. This is the hard
 *    cap: timers that fire late and together (a busy event loop) cannot bunch calls up.
 * A 429 blocks the whole workspace until its Retry-After has passed. An adaptive budget (`floor`
 * set: the stream budget) also halves its calls per window on a 429, down to the floor, and climbs
 * back by a quarter of that per window without one (additive increase, multiplicative decrease).
 * The current rate lives in Redis as well.
 *
 * Priority (`acquire(team, { first: true })`: a reply's first text): the caller skips the line of
 * reserved slots and confirms as soon as the cap allows, and while any such caller waits (a set of
 * waiters in Redis, each refreshed as it polls, dropped when stale), ordinary confirms yield — so a
 * reply that shows nothing yet goes before further edits of replies that already show text, and
 * twelve questions at once each show an answer start within a few slots. A lone `confirm` (places
 * in line) yields as well, and never waits: it says how long to wait instead.
 */
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type { SlackKeys } from "../../src/keys.ts";

/** A priority waiter that has not polled for this long is gone (its process died). */
const WAITER_STALE_MS = 5000;
/** A priority waiter polls at least this often (it stays fresh). */
const WAITER_POLL_MS = 1000;

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * The calls per window in force: ARGV[1] (the configured rate), unless a 429 lowered it — the limit
 * key then holds "lowered,atMs", and the rate climbs back by a quarter of the lowered rate per
 * window since then. Needs `now`, and the window in ARGV[2].
 */
const LIMIT = `local limit = tonumber(ARGV[1])
local lowered_at = redis.call('GET', KEYS[#KEYS])
if lowered_at then
  local sep = string.find(lowered_at, ',')
  local lowered = tonumber(string.sub(lowered_at, 1, sep - 1))
  local since = math.max(0, now - tonumber(string.sub(lowered_at, sep + 1)))
  limit = math.max(1, math.min(limit, math.floor(lowered * (1 + 0.25 * since / tonumber(ARGV[2])))))
end`;

const RESERVE = `
-- KEYS: next free slot, limit   ARGV: limit, capWindowMs, ttlMs
${NOW}
${LIMIT}
local interval = math.ceil(tonumber(ARGV[2]) / limit)
local nextFree = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, nextFree)
redis.call('SET', KEYS[1], string.format('%.0f', slot + interval), 'PX', ARGV[3])
return slot - now
`;

const CONFIRM = `
-- KEYS: send log, blocked-until, priority waiters, limit   ARGV: limit, windowMs, member, waiter ('' = ordinary)
${NOW}
${LIMIT}
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > now then return blocked - now end
local window = tonumber(ARGV[2])
local minGap = math.floor(math.ceil(window / limit) / 2)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', string.format('%.0f', now - ${WAITER_STALE_MS}))
if ARGV[4] == '' then
  if redis.call('ZCARD', KEYS[3]) > 0 then return math.max(1, minGap) end
else
  redis.call('ZADD', KEYS[3], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[3], ${WAITER_STALE_MS * 2})
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - window))
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] ~= nil and now - tonumber(last[2]) < minGap then
  return minGap - (now - tonumber(last[2]))
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window * 2)
if ARGV[4] ~= '' then redis.call('ZREM', KEYS[3], ARGV[4]) end
return 0
`;

const BLOCK = `
-- KEYS: blocked-until, limit   ARGV: configured limit, capWindowMs, delayMs, floor (0: not adaptive)
${NOW}
local until_ = now + tonumber(ARGV[3])
if until_ > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], string.format('%.0f', until_), 'PX', ARGV[3])
end
local floor = tonumber(ARGV[4])
if floor > 0 then
  ${LIMIT}
  local lowered = math.max(floor, math.floor(limit / 2))
  redis.call('SET', KEYS[2], string.format('%d,%.0f', lowered, now), 'PX', tonumber(ARGV[2]) * 8)
  return lowered
end
return 0
`;

const CURRENT = `
-- KEYS: limit   ARGV: configured limit, capWindowMs
${NOW}
${LIMIT}
return limit
`;

/** The Redis keys of one budget (built in src/keys.ts). */
export interface BudgetKeys {
  next(teamId: string): string;
  log(teamId: string): string;
  blocked(teamId: string): string;
  limit(teamId: string): string;
}

/** The edit budget's keys (`chat.update`, posts, deletes). */
export function editBudgetKeys(keys: SlackKeys): BudgetKeys {
  return {
    next: (t) => keys.editBudget(t),
    log: (t) => keys.editBudgetLog(t),
    blocked: (t) => keys.editBudgetBlocked(t),
    limit: (t) => keys.budgetLimit(keys.editBudget(t)),
  };
}

/** The stream budget's keys (`chat.appendStream`). */
export function streamBudgetKeys(keys: SlackKeys): BudgetKeys {
  return {
    next: (t) => keys.streamBudget(t),
    log: (t) => keys.streamBudgetLog(t),
    blocked: (t) => keys.streamBudgetBlocked(t),
    limit: (t) => keys.budgetLimit(keys.streamBudget(t)),
  };
}

export interface SlackEditBudgetOptions {
  /** Calls allowed per window (SLACK_EDITS_PER_MINUTE). */
  limit: number;
  /** The window (default 60 000 ms; tests shrink it). */
  windowMs?: number;
  /** Adaptive: a 429 halves the rate (not below this), which then climbs back to `limit`. */
  floor?: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class SlackEditBudget {
  /** Milliseconds between two slots of one workspace (at the configured rate). */
  readonly intervalMs: number;
  readonly limit: number;
  private readonly floor: number;
  /** The window the cap is enforced over: the platform's, plus a margin for network jitter. */
  private readonly capWindowMs: number;
  private readonly ttlMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly keys: BudgetKeys,
    options: SlackEditBudgetOptions,
  ) {
    const windowMs = options.windowMs ?? 60_000;
    this.limit = Math.max(1, options.limit);
    this.floor = options.floor === undefined ? 0 : Math.max(1, Math.min(this.limit, options.floor));
    this.capWindowMs = windowMs + Math.min(1000, Math.max(250, Math.ceil(windowMs / 20)));
    this.intervalMs = Math.ceil(this.capWindowMs / this.limit);
    this.ttlMs = windowMs * 2 + 60_000;
  }

  /** Reserve the workspace's next slot; returns how long to wait for it (ms). */
  async reserve(teamId: string): Promise<number> {
    return Number(
      await this.redis.eval(
        RESERVE,
        2,
        this.keys.next(teamId),
        this.keys.limit(teamId),
        String(this.limit),
        String(this.capWindowMs),
        String(this.ttlMs),
      ),
    );
  }

  /**
   * Record a send now if the cap allows (and, for an ordinary call, no priority caller waits); else
   * how long to wait before asking again (ms). `waiter`: a priority caller's id.
   */
  async confirm(teamId: string, waiter = ""): Promise<number> {
    const member = `${Date.now()}-${randomBytes(4).toString("hex")}`;
    return Number(
      await this.redis.eval(
        CONFIRM,
        4,
        this.keys.log(teamId),
        this.keys.blocked(teamId),
        `${this.keys.next(teamId)}:first`,
        this.keys.limit(teamId),
        String(this.limit),
        String(this.capWindowMs),
        member,
        waiter,
      ),
    );
  }

  /** Take a slot and wait until a call may go out; `first`: ahead of the reserved slots (a reply's first text). */
  async acquire(teamId: string, opts: { first?: boolean } = {}): Promise<void> {
    if (opts.first) {
      const waiter = randomBytes(6).toString("hex");
      for (;;) {
        const more = await this.confirm(teamId, waiter);
        if (more <= 0) return;
        await sleep(Math.min(more, WAITER_POLL_MS));
      }
    }
    const wait = await this.reserve(teamId);
    if (wait > 0) await sleep(wait);
    for (;;) {
      const more = await this.confirm(teamId);
      if (more <= 0) return;
      await sleep(more);
    }
  }

  /** Slack said 429: nobody in this workspace calls before `delayMs` from now (an adaptive budget also slows down). */
  async penalize(teamId: string, delayMs: number): Promise<void> {
    await this.redis.eval(
      BLOCK,
      2,
      this.keys.blocked(teamId),
      this.keys.limit(teamId),
      String(this.limit),
      String(this.capWindowMs),
      String(Math.max(1, Math.ceil(delayMs))),
      String(this.floor),
    );
  }

  /** The calls per window in force now (lower than `limit` for a window after a 429 on an adaptive budget). */
  async currentLimit(teamId: string): Promise<number> {
    return Number(await this.redis.eval(CURRENT, 1, this.keys.limit(teamId), String(this.limit), String(this.capWindowMs)));
  }
}
