/**
 * Conversation memory in Redis: a list of `user` / `assistant` turns per conversation key, with
 * an idle time-to-live, trimmed to what the context can hold, cleared by reset.
 */
import type { Redis } from "ioredis";
import type { Keys } from "../keys.ts";
import type { ChatTurn, ConversationKey } from "../types.ts";

/** Stored turns beyond this many are dropped whatever their size (a backstop for Redis memory). */
export const MAX_STORED_TURNS = 400;

/**
 * Atomic commit of one answered message: append the turns, trim the oldest, refresh the TTL,
 * take the request out of the inbox and mark the reply done — only if the request is still in the
 * inbox (not already committed), the caller still holds the job lock, and no reset happened since.
 */
const COMMIT = `
-- KEYS: inbox, turns, epoch, reply, lock
-- ARGV: requestId, epochSeen, lockToken, ttl, dropOldest, replaceLastAssistant, n, turn1..turnN
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false then return 'ALREADY_COMMITTED' end
if ARGV[3] ~= '' and redis.call('GET', KEYS[5]) ~= ARGV[3] then return 'LOCK_LOST' end
local epoch = redis.call('GET', KEYS[3]) or '0'
if epoch == ARGV[2] then
  if ARGV[6] == '1' then
    local last = redis.call('LINDEX', KEYS[2], -1)
    if last and string.find(last, '"role":"assistant"', 1, true) then redis.call('RPOP', KEYS[2]) end
  end
  local n = tonumber(ARGV[7])
  for i = 1, n do redis.call('RPUSH', KEYS[2], ARGV[7 + i]) end
  local drop = tonumber(ARGV[5])
  if drop > 0 then redis.call('LTRIM', KEYS[2], drop, -1) end
  redis.call('LTRIM', KEYS[2], -${MAX_STORED_TURNS}, -1)
  redis.call('EXPIRE', KEYS[2], ARGV[4])
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[4], 'state', 'done')
if epoch == ARGV[2] then return 'OK' end
return 'RESET_SINCE'
`;

export type CommitOutcome = "OK" | "ALREADY_COMMITTED" | "LOCK_LOST" | "RESET_SINCE";

export interface CommitParams {
  conversationKey: ConversationKey;
  requestId: string;
  epochSeen: string;
  /** BullMQ lock key and token of the job doing the commit ('' to skip the fence). */
  lockKey: string;
  lockToken: string;
  turns: ChatTurn[];
  /** Oldest stored turns to drop (they no longer fit the context). */
  dropOldest: number;
  /** Regenerate: the new assistant turn replaces the stored last one. */
  replaceLastAssistant: boolean;
}

export class ConversationMemory {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly ttlSeconds: number,
  ) {}

  async load(conv: ConversationKey): Promise<{ turns: ChatTurn[]; epoch: string }> {
    const [[, raw], [, epoch]] = (await this.redis.multi().lrange(this.keys.turns(conv), 0, -1).get(this.keys.epoch(conv)).exec()) as [
      [null, string[]],
      [null, string | null],
    ];
    return { turns: raw.map((s) => JSON.parse(s) as ChatTurn), epoch: epoch ?? "0" };
  }

  async turns(conv: ConversationKey): Promise<ChatTurn[]> {
    return (await this.load(conv)).turns;
  }

  /** Forget the conversation. Replies in flight finish but are not written back. */
  async reset(conv: ConversationKey): Promise<void> {
    await this.redis.multi().del(this.keys.turns(conv)).incr(this.keys.epoch(conv)).expire(this.keys.epoch(conv), this.ttlSeconds).exec();
  }

  async commit(p: CommitParams): Promise<CommitOutcome> {
    const args = [
      p.requestId,
      p.epochSeen,
      p.lockToken,
      String(this.ttlSeconds),
      String(p.dropOldest),
      p.replaceLastAssistant ? "1" : "0",
      String(p.turns.length),
      ...p.turns.map((t) => JSON.stringify(t)),
    ];
    const keys = [
      this.keys.inbox(p.conversationKey),
      this.keys.turns(p.conversationKey),
      this.keys.epoch(p.conversationKey),
      this.keys.reply(p.requestId),
      p.lockKey,
    ];
    return (await this.redis.eval(COMMIT, keys.length, ...keys, ...args)) as CommitOutcome;
  }
}
