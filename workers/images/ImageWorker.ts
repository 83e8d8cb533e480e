/**
 * The image worker: takes "conversation X has an image to make" jobs from the `images` queue,
 * answers the oldest /imagine in X's image inbox with the image engine (ImagineJob: previews in
 * place, the picture, the memory turns), and re-adds the job while X has more waiting — the same
 * inbox protocol as the ChatWorker's text replies, in the image lane (src/keys.ts ImageKeys): one
 * picture at a time per conversation, in order; conversations in parallel up to `concurrency`;
 * Stop through the shared stop channel; a sweeper for inboxes left without a job; a job that
 * fails every attempt ends with a note in its placeholder.
 */
import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { type Job, type Queue, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { LockLostError, QwenbotError } from "../../src/errors.ts";
import { IMAGINE_TEXT } from "../../src/images/imagineText.ts";
import { IMAGE_QUEUE_NAME, ImageKeys, type Keys } from "../../src/keys.ts";
import type { Logger } from "../../src/logger.ts";
import { type CommitOutcome, ConversationInbox, type JobLock } from "../../src/queue/ConversationInbox.ts";
import { jobOptionsFor } from "../../src/queue/Ingestor.ts";
import type { ImagineRequest, Platform, ReplySink } from "../../src/types.ts";
import { ShutdownAbort } from "../ChatWorker.ts";
import { closeWithGrace } from "../closeWithGrace.ts";
import type { ImageEngine, ImageEngineKind } from "./ImageEngine.ts";
import { ImagineJob, type ImagineJobSettings, type ImagineOutcome } from "./ImagineJob.ts";

export interface ImageWorkerSettings {
  /** Images this worker makes at once (IMAGE_CONCURRENCY). */
  concurrency: number;
  lockMs: number;
  memoryTtlSeconds: number;
  /** Least time between two updates of a Discord or Slack reply (IMAGE_UPDATE_INTERVAL_MS). */
  updateIntervalMs: number;
  /** The same for local surfaces (LOCAL_STREAM_INTERVAL_MS). */
  localUpdateIntervalMs: number;
  /** IMAGE_TIMEOUT_MS (the engine enforces it; the note names it). */
  timeoutMs: number;
  /** How often abandoned image inboxes are looked for (default 30 s). */
  sweepIntervalMs?: number;
  /** Waits before trying an unreachable engine again (default 2 s, 5 s, 10 s). */
  engineRetryDelaysMs?: readonly number[];
  /** How long a decided picture is kept for a redelivery after a crash (default 1 hour). */
  resultTtlSeconds?: number;
}

export interface ImageWorkerDeps {
  /** For BullMQ's blocking commands (maxRetriesPerRequest: null). */
  bullConnection: Redis;
  /** For the worker's own commands. */
  redis: Redis;
  /** A connection for the stop channel subscription. */
  subscriber: Redis;
  /** The image queue (createImageQueue). */
  queue: Queue;
  /** The deployment's keys; the image lane's are derived from them. */
  keys: Keys;
  engine: ImageEngine;
  sinks: Partial<Record<Platform, ReplySink>>;
  logger: Logger;
}

/** One /imagine answered (or not), for metrics and stats. */
export interface ImageEvent {
  request: ImagineRequest;
  outcome: ImagineOutcome;
  /** The error code of a failure. */
  code?: string;
  elapsedMs: number;
  engine: ImageEngineKind;
  commit?: CommitOutcome;
}

export const DEFAULT_ENGINE_RETRY_DELAYS_MS = [2000, 5000, 10_000] as const;

export class ImageWorker extends EventEmitter<{
  image: [ImageEvent];
  lockLost: [ImagineRequest];
  failure: [code: string, err: unknown];
}> {
  readonly id = randomUUID().slice(0, 8);
  readonly keys: ImageKeys;
  /** Images this worker is making right now (metrics, status). */
  get inFlight(): number {
    return this.active.size;
  }
  private worker: Worker | undefined;
  private readonly inbox: ConversationInbox;
  private readonly active = new Map<string, AbortController>();
  private sweeper: NodeJS.Timeout | undefined;
  private readonly log: Logger;

  constructor(
    private readonly deps: ImageWorkerDeps,
    private readonly settings: ImageWorkerSettings,
  ) {
    super();
    this.keys = new ImageKeys(deps.keys.prefix);
    this.inbox = new ConversationInbox(deps.redis, this.keys);
    this.log = deps.logger.child({ worker: this.id, role: "images" });
  }

  get concurrency(): number {
    return this.settings.concurrency;
  }

  async start(): Promise<void> {
    const { deps, settings } = this;
    await deps.subscriber.subscribe(deps.keys.stopChannel);
    deps.subscriber.on("message", (channel: string, requestId: string) => {
      if (channel === deps.keys.stopChannel) this.active.get(requestId)?.abort(new Error("stopped by user"));
    });
    this.worker = new Worker(IMAGE_QUEUE_NAME, (job, token) => this.process(job, token), {
      connection: deps.bullConnection,
      prefix: deps.keys.bull,
      concurrency: settings.concurrency,
      lockDuration: settings.lockMs,
      stalledInterval: settings.lockMs,
      maxStalledCount: 20,
    });
    this.worker.on("failed", (job, err) => {
      if (err instanceof ShutdownAbort || err.name === "ShutdownAbort") return;
      this.log.error({ err, jobId: job?.id, conversation: job?.data?.conversationKey, attempts: job?.attemptsMade }, "image job failed");
      this.emit("failure", err instanceof QwenbotError ? err.code : "JOB_FAILED", err);
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) void this.failForGood(job.data.conversationKey);
    });
    this.worker.on("error", (err) => this.log.error({ err }, "image worker error"));
    await this.worker.waitUntilReady();
    this.sweeper = setInterval(
      () => void this.sweep().catch((err) => this.log.warn({ err }, "image sweep failed")),
      settings.sweepIntervalMs ?? 30_000,
    );
    this.sweeper.unref();
    this.log.info({ concurrency: settings.concurrency, engine: deps.engine.kind }, "worker ready");
  }

  /** Re-add work for conversations whose image inbox has requests but no job (after crashes or lost signals). */
  async sweep(): Promise<number> {
    let added = 0;
    for (const conv of await this.inbox.conversations()) {
      if ((await this.inbox.pending(conv)) === 0) {
        await this.inbox.releaseIfEmpty(conv);
        continue;
      }
      await this.deps.queue.add("image", { conversationKey: conv }, jobOptionsFor(conv));
      added++;
    }
    return added;
  }

  /** A job that failed every attempt: a note in the head's placeholder, the head out of the inbox, the rest go on. */
  private async failForGood(conv: string): Promise<void> {
    try {
      const head = await this.inbox.head(conv);
      if (!head) return;
      if (head.request) {
        const sink = this.deps.sinks[head.request.reply.platform];
        const target = (await this.inbox.readReply(head.requestId)).messages?.[0] ?? head.request.reply;
        await sink?.edit(target, "", { final: true, last: true, note: IMAGINE_TEXT.somethingWrong }).catch(() => {});
      }
      await this.inbox.commit({
        conversationKey: conv,
        requestId: head.requestId,
        epochSeen: "",
        lock: undefined,
        turns: [],
        dropOldest: 0,
        replaceLastAssistant: false,
        memoryTtlSeconds: this.settings.memoryTtlSeconds,
        state: "failed",
      });
      if ((await this.inbox.pending(conv)) > 0) await this.deps.queue.add("image", { conversationKey: conv }, jobOptionsFor(conv));
    } catch (err) {
      this.log.error({ err, conversation: conv }, "could not report a failed image job to the user");
    }
  }

  private async process(job: Job<{ conversationKey: string }>, token: string | undefined): Promise<void> {
    const conv = job.data.conversationKey;
    const head = await this.inbox.head(conv);
    if (!head) return;
    if (head.reserved) {
      // Its placeholder is being posted; attaching it wakes this conversation again. A reservation
      // that ran out (the adapter died in between) is dropped, and the line moves on.
      if (!(await this.inbox.release(conv, head.requestId, true))) return;
      this.log.warn({ requestId: head.requestId, conversation: conv }, "a reserved image request never got its placeholder; dropped");
    } else if (head.request) {
      await this.answer(head.request as ImagineRequest, token && job.id ? { jobId: job.id, token } : undefined, job.id);
    } else {
      this.log.warn({ requestId: head.requestId, conversation: conv }, "image request expired before it was answered; dropping it");
      await this.inbox.dropExpired(conv, head.requestId);
    }
    if ((await this.inbox.pending(conv)) > 0) {
      await this.updatePlaces(conv);
      await this.deps.queue.add("image", { conversationKey: conv }, jobOptionsFor(conv));
    }
  }

  /** Tell the requests still waiting in a conversation that the line moved. */
  private async updatePlaces(conv: string): Promise<void> {
    try {
      for (const { place, request } of await this.inbox.waiting(conv, 20)) {
        await this.deps.sinks[request.reply.platform]?.queued?.(request.reply, place);
      }
    } catch (err) {
      this.log.debug({ err, conversation: conv }, "could not update places in line");
    }
  }

  private async answer(request: ImagineRequest, lock: JobLock | undefined, jobId?: string): Promise<void> {
    const { deps, settings } = this;
    const platform = request.reply.platform;
    const log = this.log.child({ conversation: request.conversationKey, requestId: request.requestId, platform, jobId });
    const sink = deps.sinks[platform];
    if (!sink) {
      log.error("no reply sink for this platform on this worker (is its token configured here?); dropping the request");
      await this.inbox.commit({
        conversationKey: request.conversationKey,
        requestId: request.requestId,
        epochSeen: "",
        lock,
        turns: [],
        dropOldest: 0,
        replaceLastAssistant: false,
        memoryTtlSeconds: settings.memoryTtlSeconds,
        state: "failed",
      });
      return;
    }
    const jobSettings: ImagineJobSettings = {
      intervalMs: platform === "local" ? settings.localUpdateIntervalMs : settings.updateIntervalMs,
      memoryTtlSeconds: settings.memoryTtlSeconds,
      timeoutMs: settings.timeoutMs,
      engineRetryDelaysMs: settings.engineRetryDelaysMs ?? DEFAULT_ENGINE_RETRY_DELAYS_MS,
      resultTtlSeconds: settings.resultTtlSeconds ?? 3600,
    };
    const abort = new AbortController();
    this.active.set(request.requestId, abort);
    try {
      const result = await new ImagineJob(request, {
        redis: deps.redis,
        keys: this.keys,
        inbox: this.inbox,
        engine: deps.engine,
        sink,
        settings: jobSettings,
        logger: log,
        lock,
        workerId: this.id,
        abort,
      }).run();
      if (result.outcome === "lockLost") this.emit("lockLost", request);
      if (result.code) this.emit("failure", result.code, new Error(result.code));
      const event: ImageEvent = { request, outcome: result.outcome, elapsedMs: result.elapsedMs, engine: deps.engine.kind };
      if (result.code) event.code = result.code;
      if (result.commit) event.commit = result.commit;
      log.info({ outcome: result.outcome, code: result.code, elapsedMs: result.elapsedMs, commit: result.commit }, "image done");
      this.emit("image", event);
    } catch (err) {
      if (!(err instanceof ShutdownAbort || err instanceof LockLostError)) log.error({ err }, "image job failed");
      throw err;
    } finally {
      this.active.delete(request.requestId);
    }
  }

  /**
   * Stop taking jobs and let running images finish within `graceMs`; images still running then
   * are interrupted with a visible note and requeued for another worker (nothing is committed for them).
   */
  async close(graceMs = Infinity): Promise<void> {
    clearInterval(this.sweeper);
    await closeWithGrace(this.worker, this.active, graceMs, this.log, "images");
    await this.deps.subscriber.unsubscribe().catch(() => {});
  }
}
