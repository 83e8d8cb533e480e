/**
 * The open replies: placeholders that show no final answer yet. attach.lua lists a reply here when
 * its placeholder joins the inbox; it leaves the list when its final text (or an explanation)
 * landed — the worker closes it after the commit, withdraw.lua when Stop took it out of the line.
 * What stays listed long after its request left the inbox (the job failed and its error could not
 * be shown, the request expired, a crash) is what the worker's sweeper finishes or explains, so no
 * message is left "Thinking…" with a live Stop button.
 */
import type { Redis } from "ioredis";
import type { Keys } from "../keys.ts";
import type { ConversationKey, ReplyTarget } from "../types.ts";

/** A reply whose placeholder shows no final answer yet. */
export interface OpenReply {
  requestId: string;
  conversationKey: ConversationKey;
  reply: ReplyTarget;
  /** When its placeholder was attached (ms). */
  since: number;
}

export class OpenReplies {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  /** Open replies attached before `before` (ms), oldest first. */
  async since(before: number, limit = 100): Promise<OpenReply[]> {
    const flat = await this.redis.zrangebyscore(this.keys.openReplies, 0, before, "WITHSCORES", "LIMIT", 0, limit);
    if (flat.length === 0) return [];
    const pairs: Array<[string, number]> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([flat[i]!, Number(flat[i + 1])]);
    const raws = await this.redis.hmget(this.keys.openReplyTargets, ...pairs.map(([id]) => id));
    // Listed without a target (a half-written entry): nothing to finish, unlist it.
    const unknown = pairs.filter((_, i) => !raws[i]).map(([id]) => id);
    if (unknown.length > 0) await this.redis.zrem(this.keys.openReplies, ...unknown);
    return pairs.flatMap(([requestId, since], i) => {
      const raw = raws[i];
      if (!raw) return [];
      const { conversationKey, reply } = JSON.parse(raw) as Pick<OpenReply, "conversationKey" | "reply">;
      return [{ requestId, conversationKey, reply, since }];
    });
  }

  /** Whether the reply is still listed as open. */
  async isOpen(requestId: string): Promise<boolean> {
    return (await this.redis.zscore(this.keys.openReplies, requestId)) !== null;
  }

  /** The reply's placeholder shows its final text (or an explanation): it is no longer open. */
  async close(requestId: string): Promise<void> {
    await this.redis.multi().zrem(this.keys.openReplies, requestId).hdel(this.keys.openReplyTargets, requestId).exec();
  }
}
