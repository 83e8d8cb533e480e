/**
 * Conversation affinity across worker processes. A local-engine worker keeps each conversation's
 * tokens warm (its sequence, or the state cache), so a follow-up answered there skips evaluating
 * the history again (~15× faster first token); on any other worker it starts cold. So:
 *
 * - a worker that answered a conversation records itself as its affinity (`remember`);
 * - every worker announces, every second, that it is alive and how many sequences it has free
 *   (`announce`; the key expires after ROUTE_TTL_MS unless refreshed);
 * - a conversation's job goes to its worker's own queue (`workerQueueName`) while that worker is
 *   alive and has a free sequence; otherwise — no affinity, worker gone or saturated — to the
 *   shared queue every worker takes from, and the follow-up starts cold but never waits;
 * - a worker's own queue is emptied into the shared queue when its route expires (the worker
 *   died: `gone`, `claimRescue`, workers/WorkerQueue.ts) and when it shuts down.
 *
 * Order and exactly-once do not depend on any of this: the inbox decides what is answered next,
 * and the conversation's lease (ConversationLease) lets one job attempt at a time answer it.
 */
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { type Keys, QUEUE_NAME, workerQueueName } from "../keys.ts";
import type { ConversationKey } from "../types.ts";
import { jobOptionsFor } from "./jobOptionsFor.ts";

/** A worker's route expires this long after its last announcement (it announces every ROUTE_TTL_MS / 3). */
export const ROUTE_TTL_MS = 4500;
/** Worker queues kept open by one producer; the least recently used is closed beyond this. */
const MAX_OPEN_QUEUES = 64;

export class WorkerRoutes {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    /** The shared chat queue (every worker takes from it). */
    readonly shared: Queue,
  ) {}

  /** The queue for a conversation's next job: its worker's own while alive with a free sequence, else the shared one. */
  async queueFor(conv: ConversationKey): Promise<string> {
    const worker = await this.redis.get(this.keys.affinity(conv));
    if (!worker) return QUEUE_NAME;
    const free = Number((await this.redis.get(this.keys.route(worker))) ?? 0);
    return free > 0 ? workerQueueName(worker) : QUEUE_NAME;
  }

  /** Signal "conversation X has work" on the queue `queueFor` picks; returns its name. */
  async wake(conv: ConversationKey): Promise<string> {
    const name = await this.queueFor(conv);
    await this.queue(name).add("turn", { conversationKey: conv }, jobOptionsFor(conv));
    return name;
  }

  /** Signal on the shared queue (sweeps, a dead worker's queue emptied). */
  async wakeShared(conv: ConversationKey): Promise<void> {
    await this.shared.add("turn", { conversationKey: conv }, jobOptionsFor(conv));
  }

  /** The producer side of a queue by name (opened once, kept for the next signal). */
  queue(name: string): Queue {
    if (name === this.shared.name) return this.shared;
    let q = this.queues.get(name);
    if (q) {
      this.queues.delete(name); // re-inserted: most recently used last
    } else {
      q = new Queue(name, { connection: this.redis, prefix: this.keys.bull });
      if (this.queues.size >= MAX_OPEN_QUEUES) {
        const [oldest, queue] = this.queues.entries().next().value as [string, Queue];
        this.queues.delete(oldest);
        void queue.close().catch(() => undefined);
      }
    }
    this.queues.set(name, q);
    return q;
  }

  /** `workerId` answered `conv` and holds its tokens: route its follow-ups there for `ttlSeconds`. */
  async remember(conv: ConversationKey, workerId: string, ttlSeconds: number): Promise<void> {
    await this.redis.set(this.keys.affinity(conv), workerId, "EX", Math.max(1, Math.round(ttlSeconds)));
  }

  /** The worker is alive with `free` sequences free (0: routed follow-ups go to the shared queue). */
  async announce(workerId: string, free: number, ttlMs = ROUTE_TTL_MS): Promise<void> {
    await this.redis
      .multi()
      .set(this.keys.route(workerId), String(Math.max(0, free)), "PX", ttlMs)
      .sadd(this.keys.routes, workerId)
      .exec();
  }

  /** Stop routing to this worker (it shuts down). */
  async withdraw(workerId: string): Promise<void> {
    await this.redis.del(this.keys.route(workerId));
  }

  /** Whether a worker other than `self` announces a free sequence right now. */
  async othersFree(self: string): Promise<boolean> {
    const ids = (await this.redis.smembers(this.keys.routes)).filter((id) => id !== self);
    if (ids.length === 0) return false;
    return (await this.redis.mget(ids.map((id) => this.keys.route(id)))).some((free) => Number(free ?? 0) > 0);
  }

  /** Workers that announced a route which has since expired (dead, or shut down without emptying their queue). */
  async gone(): Promise<string[]> {
    const ids = await this.redis.smembers(this.keys.routes);
    if (ids.length === 0) return [];
    const alive = await this.redis.mget(ids.map((id) => this.keys.route(id)));
    return ids.filter((_, i) => alive[i] === null);
  }

  /** One worker at a time empties a gone worker's queue: true for the one that may. */
  async claimRescue(workerId: string, by: string, ms: number): Promise<boolean> {
    return (await this.redis.set(this.keys.rescue(workerId), by, "PX", ms, "NX")) === "OK";
  }

  /** The gone worker's queue is empty: forget it. */
  async forget(workerId: string): Promise<void> {
    await this.redis.multi().srem(this.keys.routes, workerId).del(this.keys.rescue(workerId)).exec();
  }

  /** Close the worker queues this producer opened (not the shared one). */
  async close(): Promise<void> {
    const open = [...this.queues.values()];
    this.queues.clear();
    await Promise.all(open.map((q) => q.close().catch(() => undefined)));
  }
}
