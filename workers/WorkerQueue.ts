/**
 * A worker process's own chat queue (src/queue/WorkerRoutes.ts): follow-ups of the conversations
 * it holds warm arrive here while it announces a free sequence. This class takes jobs from it (the
 * same processor as the shared queue); announces the worker every ROUTE_TTL_MS / 3 and whenever
 * its free sequences change (a reply claims one from its job's start to the end of its
 * generation); and empties into the shared queue the queue of any worker whose route expired (it
 * died) — and its own when it shuts down — so nothing waits on a dead worker.
 */
import { type Processor, Worker, type WorkerOptions } from "bullmq";
import type { Redis } from "ioredis";
import { type Keys, workerQueueName } from "../src/keys.ts";
import type { Logger } from "../src/logger.ts";
import { ROUTE_TTL_MS, type WorkerRoutes } from "../src/queue/WorkerRoutes.ts";

/** Job states a gone worker's queue may still hold work in. */
const UNFINISHED = ["waiting", "active", "delayed", "prioritized", "paused"] as const;

export interface WorkerQueueDeps {
  routes: WorkerRoutes;
  bullConnection: Redis;
  keys: Keys;
  logger: Logger;
}

export class WorkerQueue {
  readonly name: string;
  private worker: Worker | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private lastFree = -1;
  private readonly claimed = new Set<string>();
  /** Announcing fails (Redis away): logged once, until it works again. */
  private failing = false;

  constructor(
    private readonly deps: WorkerQueueDeps,
    private readonly workerId: string,
    /** The worker's sequences. */
    private readonly slots: number,
    private readonly routeTtlMs = ROUTE_TTL_MS,
  ) {
    this.name = workerQueueName(workerId);
  }

  /** Sequences no reply of this worker has claimed (routed follow-ups stop at 0). */
  get free(): number {
    return Math.max(0, this.slots - this.claimed.size);
  }

  /**
   * A reply is taken (from its job's start, before it waits for or gets a sequence, so a burst of
   * follow-ups does not all see room): announced at once. `unclaim` when its generation ended.
   */
  claim(requestId: string): void {
    this.claimed.add(requestId);
    void this.announce();
  }

  unclaim(requestId: string): void {
    if (this.claimed.delete(requestId)) void this.announce();
  }

  /** This worker answered `conv` and holds its tokens: its follow-ups come here (for `ttlSeconds`). */
  async remember(conv: string, ttlSeconds: number): Promise<void> {
    await this.deps.routes.remember(conv, this.workerId, ttlSeconds).catch(() => undefined);
  }

  /** The BullMQ worker on this queue (closed by the ChatWorker with its shared one). */
  get bullWorker(): Worker | undefined {
    return this.worker;
  }

  async start(processor: Processor, options: Omit<WorkerOptions, "connection" | "prefix">): Promise<void> {
    this.worker = new Worker(this.name, processor, { ...options, connection: this.deps.bullConnection, prefix: this.deps.keys.bull });
    this.worker.on("error", (err) => this.deps.logger.error({ err, queue: this.name }, "worker queue error"));
    await this.worker.waitUntilReady();
    await this.announce(true);
    this.timer = setInterval(() => void this.tick(), Math.max(100, Math.round(this.routeTtlMs / 3)));
    this.timer.unref();
  }

  /** Tell producers how many sequences are free (skipped when unchanged, unless `force`). */
  async announce(force = false): Promise<void> {
    if (this.closed) return;
    const { free } = this;
    if (!force && free === this.lastFree) return;
    this.lastFree = free;
    try {
      await this.deps.routes.announce(this.workerId, free, this.routeTtlMs);
      this.failing = false;
    } catch (err) {
      this.lastFree = -1;
      // Once per outage (Redis away): follow-ups go to the shared queue meanwhile.
      if (!this.failing) this.deps.logger.warn({ err }, "could not announce this worker's free sequences");
      this.failing = true;
    }
  }

  private async tick(): Promise<void> {
    await this.announce(true);
    if (this.failing) return;
    try {
      for (const id of await this.deps.routes.gone()) {
        if (id === this.workerId || this.closed) continue;
        if (await this.deps.routes.claimRescue(id, this.workerId, 30_000)) await this.empty(id, "gone");
      }
    } catch (err) {
      this.deps.logger.warn({ err }, "could not look for the queues of gone workers");
    }
  }

  /** Move the conversations with a job in `id`'s queue to the shared queue, then remove that queue. */
  private async empty(id: string, why: "gone" | "shutdown"): Promise<void> {
    const { routes, logger } = this.deps;
    const queue = routes.queue(workerQueueName(id));
    const jobs = await queue.getJobs([...UNFINISHED]);
    const conversations = new Set(jobs.map((j) => (j?.data as { conversationKey?: string } | undefined)?.conversationKey));
    conversations.delete(undefined);
    for (const conv of conversations) await routes.wakeShared(conv!);
    await queue.obliterate({ force: true }).catch((err) => logger.warn({ err, queue: queue.name }, "could not remove a worker queue"));
    await routes.forget(id);
    if (conversations.size > 0 || why === "gone")
      logger.warn({ worker: id, conversations: conversations.size, why }, "a worker's queue moved to the shared queue");
  }

  /** Stop routing here (before the BullMQ worker closes). */
  async withdraw(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.deps.routes.withdraw(this.workerId).catch(() => undefined);
  }

  /** After the BullMQ worker closed: what was still waiting here goes to the shared queue. */
  async handOver(): Promise<void> {
    await this.empty(this.workerId, "shutdown").catch((err) =>
      this.deps.logger.warn({ err }, "could not hand this worker's queue over; the sweeper re-adds its conversations"),
    );
  }
}
