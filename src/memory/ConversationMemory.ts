/**
 * Conversation memory in Redis: a list of `user` / `assistant` turns per conversation key, with
 * an idle time-to-live, cleared by reset. This module reads it and resets it; new turns are
 * written only by the inbox protocol's commit (ConversationInbox.commit), atomically with taking
 * the answered message out of the inbox, so an answer is remembered exactly once.
 */
import type { Redis } from "ioredis";
import type { Keys } from "../keys.ts";
import type { ChatTurn, ConversationKey } from "../types.ts";

export class ConversationMemory {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly ttlSeconds: number,
  ) {}

  /** The stored turns and the reset epoch they belong to (the commit is fenced on it). */
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
}
