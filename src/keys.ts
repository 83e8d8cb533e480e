/** Every Redis key the bot uses, in one place. `prefix` is REDIS_PREFIX. */
import type { ConversationKey } from "./types.ts";

export class Keys {
  constructor(readonly prefix: string) {}
  /** BullMQ's own prefix (its keys live under `<prefix>:bull:<queue>:…`). */
  get bull(): string {
    return `${this.prefix}:bull`;
  }
  dedupe(requestId: string): string {
    return `${this.prefix}:dedupe:${requestId}`;
  }
  inbox(conv: ConversationKey): string {
    return `${this.prefix}:inbox:${conv}`;
  }
  /** Set of conversations whose inbox may be non-empty (the sweeper's worklist). */
  get inboxes(): string {
    return `${this.prefix}:inboxes`;
  }
  get seq(): string {
    return `${this.prefix}:seq`;
  }
  request(requestId: string): string {
    return `${this.prefix}:req:${requestId}`;
  }
  turns(conv: ConversationKey): string {
    return `${this.prefix}:turns:${conv}`;
  }
  /** Bumped by reset, so a reply that was in flight during a reset is not written into the fresh memory. */
  epoch(conv: ConversationKey): string {
    return `${this.prefix}:epoch:${conv}`;
  }
  reply(requestId: string): string {
    return `${this.prefix}:reply:${requestId}`;
  }
  /** Local surfaces read a reply's updates from this stream. */
  replyStream(messageId: string): string {
    return `${this.prefix}:stream:${messageId}`;
  }
  stopped(requestId: string): string {
    return `${this.prefix}:stopped:${requestId}`;
  }
  /** Messages a user sent in one minute (per-user rate limit). */
  rate(userKey: string, minute: number): string {
    return `${this.prefix}:rate:${userKey}:${minute}`;
  }
  get stopChannel(): string {
    return `${this.prefix}:stop`;
  }
}

export const QUEUE_NAME = "chat";
