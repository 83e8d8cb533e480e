/**
 * One job attempt at a time answers a conversation, whichever queue its job came from. A
 * conversation's jobs are deduplicated within one queue (BullMQ, by conversation key), but with
 * follow-ups routed to a worker's own queue (WorkerRoutes) a conversation can have a job in two
 * queues at once; the attempt that takes the lease answers, the other comes back a moment later.
 *
 * The lease names the holder's BullMQ job lock and token, and counts as held only while that lock
 * still carries that token (lua/leaseTake.lua): no timer of its own, no renewal — a holder that
 * finished, failed or died frees it together with its job lock. The inbox scripts that must not
 * land once another attempt owns the conversation (decide, commit) check it (JobLock.lease).
 */
import type { Redis } from "ioredis";
import type { Keys } from "../keys.ts";
import type { ConversationKey } from "../types.ts";
import { defineInboxCommands, type InboxRedis } from "./inboxScripts.ts";
import type { JobLock } from "./inboxTypes.ts";

/** How long a lease key is kept (housekeeping: a lease is live only while its job lock is). */
const LEASE_KEY_MS = 24 * 3600_000;

export class ConversationLease {
  private readonly redis: InboxRedis;

  constructor(
    redis: Redis,
    private readonly keys: Keys,
  ) {
    this.redis = defineInboxCommands(redis);
  }

  /** The job lock `{ jobId, token, queue }` with the conversation's lease it would hold. */
  lockFor(conv: ConversationKey, lock: Omit<JobLock, "lease">): JobLock {
    return { ...lock, lease: { key: this.keys.lease(conv), value: `${this.keys.jobLock(lock.jobId, lock.queue)}|${lock.token}` } };
  }

  /** Take the conversation's lease for this attempt: false while another live attempt holds it. */
  async take(lock: JobLock): Promise<boolean> {
    if (!lock.lease) return true;
    return (await this.redis.inboxLeaseTake(lock.lease.key, lock.lease.value, LEASE_KEY_MS)) === 1;
  }

  /** Give the lease back (a no-op when another attempt took it over meanwhile). */
  async release(lock: JobLock): Promise<void> {
    if (lock.lease) await this.redis.inboxLeaseRelease(lock.lease.key, lock.lease.value);
  }
}
