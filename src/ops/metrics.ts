/**
 * Prometheus metrics of one process (adapters, worker, or both), served on METRICS_PORT by the
 * health server. Counters move from hooks (the worker's events, instrumented reply sinks);
 * queue and inbox gauges are read from Redis when Prometheus scrapes.
 *
 * Every metric is named `qwenbot_…`; `METRIC_NAMES` lists them (docs/operations.md, tests).
 */
import path from "node:path";
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { QwenbotError } from "../errors.ts";
import type { Keys } from "../keys.ts";
import { ConversationInbox, type InboxDepth } from "../queue/ConversationInbox.ts";
import type { Ingestor } from "../queue/Ingestor.ts";
import type { Platform, ReplySink } from "../types.ts";
import type { EngineInfo, GenerationStats, ObservedWorker } from "./observedWorker.ts";

/** Queue states reported by `qwenbot_queue_jobs{state}`. */
export const QUEUE_STATES = ["waiting", "active", "delayed", "failed"] as const;

export const METRIC_NAMES = {
  queueJobs: "qwenbot_queue_jobs",
  inboxMessages: "qwenbot_inbox_messages",
  inboxConversations: "qwenbot_inbox_conversations",
  redisUp: "qwenbot_redis_up",
  repliesInFlight: "qwenbot_replies_in_flight",
  timeToFirstToken: "qwenbot_time_to_first_token_seconds",
  timePerToken: "qwenbot_time_per_token_seconds",
  tokensGenerated: "qwenbot_tokens_generated_total",
  replies: "qwenbot_replies_total",
  editsSent: "qwenbot_edits_sent_total",
  rateLimited: "qwenbot_platform_rate_limited_total",
  errors: "qwenbot_errors_total",
  modelLoadSeconds: "qwenbot_model_load_seconds",
  modelInfo: "qwenbot_model_info",
} as const;

export interface QueueSource {
  queue: Queue;
  /** A fail-fast (producer) connection, so a scrape never hangs while Redis is down. */
  redis: Redis;
  keys: Keys;
  /** Give up on Redis after this long per scrape (default 1500 ms). */
  timeoutMs?: number;
}

export interface MetricsOptions {
  /** Also export Node's process metrics (CPU, memory, event loop lag, GC). Default true. */
  defaultMetrics?: boolean;
}

/** The error code a metric is labelled with: our own codes, anything else "UNEXPECTED" (bounded label values). */
export function errorCode(err: unknown): string {
  return err instanceof QwenbotError ? err.code : "UNEXPECTED";
}

function isRateLimited(err: unknown): boolean {
  return err instanceof QwenbotError && err.code === "PLATFORM_RATE_LIMITED";
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export class Metrics {
  readonly registry = new Registry();
  private readonly queueJobs: Gauge<"state">;
  private readonly inboxMessages: Gauge;
  private readonly inboxConversations: Gauge;
  private readonly redisUp: Gauge;
  private readonly inFlight: Gauge;
  private readonly ttft: Histogram<"platform">;
  private readonly perToken: Histogram<"platform">;
  private readonly tokens: Counter<"platform">;
  private readonly replies: Counter<"platform" | "stop_reason">;
  private readonly edits: Counter<"platform" | "kind">;
  private readonly limited: Counter<"platform">;
  private readonly errors: Counter<"code">;
  private readonly loadSeconds: Gauge;
  private readonly modelInfo: Gauge<"model" | "gpu">;
  private readonly inFlightSources: Array<() => number> = [];
  private queueSource: QueueSource | undefined;
  private refreshing: Promise<void> | undefined;

  constructor(opts: MetricsOptions = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    const refresh = () => this.refreshFromRedis();
    this.queueJobs = new Gauge({
      name: METRIC_NAMES.queueJobs,
      help: "Jobs in the chat queue by state (one job = one conversation with messages to answer); read from Redis on scrape",
      labelNames: ["state"],
      registers,
      collect: refresh,
    });
    this.inboxMessages = new Gauge({
      name: METRIC_NAMES.inboxMessages,
      help: "Messages waiting in conversation inboxes (including the ones being answered); read from Redis on scrape",
      registers,
      collect: refresh,
    });
    this.inboxConversations = new Gauge({
      name: METRIC_NAMES.inboxConversations,
      help: "Conversations with at least one message in their inbox; read from Redis on scrape",
      registers,
      collect: refresh,
    });
    this.redisUp = new Gauge({
      name: METRIC_NAMES.redisUp,
      help: "1 when the last scrape could read Redis, else 0",
      registers,
      collect: refresh,
    });
    const sources = this.inFlightSources;
    this.inFlight = new Gauge({
      name: METRIC_NAMES.repliesInFlight,
      help: "Replies this process is generating right now",
      registers,
      collect() {
        this.set(sources.reduce((sum, f) => sum + f(), 0));
      },
    });
    this.ttft = new Histogram({
      name: METRIC_NAMES.timeToFirstToken,
      help: "Seconds from the start of generation (prompt evaluation included) to the first token",
      labelNames: ["platform"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    });
    this.perToken = new Histogram({
      name: METRIC_NAMES.timePerToken,
      help: "Mean seconds per generated token after the first, one observation per reply",
      labelNames: ["platform"],
      buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2],
      registers,
    });
    this.tokens = new Counter({ name: METRIC_NAMES.tokensGenerated, help: "Tokens generated", labelNames: ["platform"], registers });
    this.replies = new Counter({
      name: METRIC_NAMES.replies,
      help: "Replies generated and delivered, by stop reason",
      labelNames: ["platform", "stop_reason"],
      registers,
    });
    this.edits = new Counter({
      name: METRIC_NAMES.editsSent,
      help: "Messages edited (kind=edit), posted as follow-ups (kind=post) or given an image (kind=image) that the platform accepted",
      labelNames: ["platform", "kind"],
      registers,
    });
    this.limited = new Counter({
      name: METRIC_NAMES.rateLimited,
      help: "429 (rate limited) answers received from a platform",
      labelNames: ["platform"],
      registers,
    });
    this.errors = new Counter({
      name: METRIC_NAMES.errors,
      help: "Errors by code (see src/errors.ts; UNEXPECTED for anything else)",
      labelNames: ["code"],
      registers,
    });
    this.loadSeconds = new Gauge({
      name: METRIC_NAMES.modelLoadSeconds,
      help: "Seconds it took to resolve, load the model and create its context",
      registers,
    });
    this.modelInfo = new Gauge({
      name: METRIC_NAMES.modelInfo,
      help: "1 for the loaded model file and the compute backend it runs on (cuda, vulkan, metal, cpu)",
      labelNames: ["model", "gpu"],
      registers,
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text Prometheus scrapes. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  observeGeneration(platform: Platform | string, result: GenerationStats): void {
    this.ttft.observe({ platform }, result.ttftMs / 1000);
    if (result.generatedTokens >= 2)
      this.perToken.observe({ platform }, (result.totalMs - result.ttftMs) / 1000 / (result.generatedTokens - 1));
    this.tokens.inc({ platform }, result.generatedTokens);
    this.replies.inc({ platform, stop_reason: result.stopReason });
  }

  editSent(platform: Platform | string, kind: "edit" | "post" | "image" = "edit"): void {
    this.edits.inc({ platform, kind });
  }

  rateLimited(platform: Platform | string): void {
    this.limited.inc({ platform });
  }

  error(code: string): void {
    this.errors.inc({ code });
  }

  modelLoaded(engine: Pick<EngineInfo, "model" | "backend" | "loadMs">): void {
    this.loadSeconds.set(engine.loadMs / 1000);
    this.modelInfo.reset();
    this.modelInfo.set({ model: path.basename(engine.model), gpu: engine.backend }, 1);
  }

  /** Add a source of "replies in flight" (summed on scrape). */
  trackInFlight(count: () => number): void {
    this.inFlightSources.push(count);
  }

  /** Read queue and inbox gauges from Redis on each scrape. */
  watchQueue(source: QueueSource): void {
    this.queueSource = source;
  }

  /** Count generations, in-flight replies, lock losses and failures of a worker, and its model load time. */
  watchWorker(worker: ObservedWorker, engine: EngineInfo): void {
    worker.on("generation", (e) => this.observeGeneration(e.request.reply.platform, e.result));
    worker.on("lockLost", () => this.error("LOCK_LOST"));
    worker.on("failure", (code) => this.error(code));
    this.trackInFlight(() => worker.inFlight);
    this.modelLoaded(engine);
  }

  /**
   * The same sink, counting what reaches the platform: accepted edits and posts, 429s, and
   * other failures by error code. Every argument reaches the sink unchanged (`opts` included: it
   * carries final, last and the note), and everything else (maxLength, queued, budgets…) passes through.
   */
  instrumentSink<S extends ReplySink>(platform: Platform | string, sink: S): S {
    const count = async <T>(kind: "edit" | "post" | "image", send: () => Promise<T>): Promise<T> => {
      try {
        const out = await send();
        this.editSent(platform, kind);
        return out;
      } catch (err) {
        if (isRateLimited(err)) this.rateLimited(platform);
        else this.error(errorCode(err));
        throw err;
      }
    };
    const edit: ReplySink["edit"] = (...args) => count("edit", () => sink.edit(...args));
    const post: ReplySink["post"] = (...args) => count("post", () => sink.post(...args));
    const showImage: ReplySink["showImage"] = sink.showImage && ((...args) => count("image", () => sink.showImage!(...args)));
    return new Proxy(sink, {
      get(target, prop) {
        if (prop === "edit") return edit;
        if (prop === "post") return post;
        if (prop === "showImage") return showImage;
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  /**
   * The same ingestor, counting refused messages by code (QUEUE_FULL, RATE_LIMITED,
   * REDIS_UNAVAILABLE…) whether refused in one step (`ingest`) or when their place is reserved
   * (`reserve`), a message queued without signalling the workers as REDIS_UNAVAILABLE (the queue
   * add failed; the sweeper makes up for it), and unexpected failures by their error's code.
   */
  instrumentIngestor<I extends Pick<Ingestor, "ingest">>(ingestor: I): I {
    const counted =
      <A extends unknown[], O extends { status: string; code?: string }>(fn: (...args: A) => Promise<O>) =>
      async (...args: A): Promise<O> => {
        let outcome: O;
        try {
          outcome = await fn(...args);
        } catch (err) {
          this.error(errorCode(err));
          throw err;
        }
        if (outcome.status === "refused" && outcome.code) this.error(outcome.code);
        else if (outcome.status === "queued-unsignalled") this.error("REDIS_UNAVAILABLE");
        return outcome;
      };
    const wrapped = new Map<PropertyKey, unknown>();
    return new Proxy(ingestor, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof value !== "function") return value;
        const bound = (value as (...args: unknown[]) => unknown).bind(target);
        if (prop !== "ingest" && prop !== "reserve" && prop !== "attach") return bound;
        if (!wrapped.has(prop)) wrapped.set(prop, counted(bound as (...args: unknown[]) => Promise<{ status: string; code?: string }>));
        return wrapped.get(prop);
      },
    });
  }

  instrumentSinks<T extends Partial<Record<Platform, ReplySink>>>(sinks: T): T {
    const out: Partial<Record<Platform, ReplySink>> = {};
    for (const [platform, sink] of Object.entries(sinks) as Array<[Platform, ReplySink | undefined]>) {
      if (sink) out[platform] = this.instrumentSink(platform, sink);
    }
    return out as T;
  }

  /** One Redis read per scrape, shared by the gauges that need it. */
  private refreshFromRedis(): Promise<void> {
    this.refreshing ??= this.readRedis().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async readRedis(): Promise<void> {
    const src = this.queueSource;
    if (!src) return;
    const timeoutMs = src.timeoutMs ?? 1500;
    try {
      const [counts, depths] = await withTimeout(
        Promise.all([src.queue.getJobCounts(...QUEUE_STATES), inboxDepths(src.redis, src.keys)]),
        timeoutMs,
        "Redis",
      );
      for (const state of QUEUE_STATES) this.queueJobs.set({ state }, counts[state] ?? 0);
      this.inboxMessages.set(depths.reduce((sum, d) => sum + d.depth, 0));
      this.inboxConversations.set(depths.filter((d) => d.depth > 0).length);
      this.redisUp.set(1);
    } catch {
      // Unknown is not zero: drop the values rather than report stale ones.
      this.queueJobs.reset();
      this.inboxMessages.reset();
      this.inboxConversations.reset();
      this.redisUp.set(0);
    }
  }
}

/** Depth of every conversation inbox the sweeper knows about (one pipelined round trip). */
export async function inboxDepths(redis: Redis, keys: Keys): Promise<InboxDepth[]> {
  return new ConversationInbox(redis, keys).depths();
}
