/**
 * The options of every "conversation X has work" job: one job per conversation per queue
 * (BullMQ deduplication by conversation key; one arriving while it runs is kept as the next),
 * retried with backoff after a crash or a retryable engine failure.
 */
import type { ConversationKey } from "../types.ts";

export function jobOptionsFor(conversationKey: ConversationKey) {
  return {
    deduplication: { id: conversationKey, keepLastIfActive: true },
    attempts: 20,
    backoff: { type: "exponential" as const, delay: 500 },
    removeOnComplete: { count: 1000 },
    removeOnFail: { count: 5000 },
  };
}
