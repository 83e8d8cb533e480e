/**
 * Prometheus metrics of /imagine, on the same registry as the text metrics (src/ops/metrics.ts):
 * the image queue and image inboxes read from Redis on scrape, images in flight, pictures by
 * outcome and generation time from the image workers' events; failures also count in
 * `qwenbot_errors_total` by code. Ops code: it sees the worker as a plain shape, never imports it.
 */
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { Counter, Gauge, Histogram } from "prom-client";
import { ImageKeys, type Keys } from "../keys.ts";
import { ConversationInbox } from "../queue/ConversationInbox.ts";
import { type Metrics, QUEUE_STATES } from "./metrics.ts";

export const IMAGE_METRIC_NAMES = {
  imageQueueJobs: "qwenbot_image_queue_jobs",
  imageInboxMessages: "qwenbot_image_inbox_messages",
  imagesInFlight: "qwenbot_images_in_flight",
  images: "qwenbot_images_total",
  generationSeconds: "qwenbot_image_generation_seconds",
} as const;

/** What one answered /imagine tells the metrics (a subset of the image worker's ImageEvent). */
export interface ImageStats {
  request: { reply: { platform: string } };
  /** done, stopped, failed, refused or lockLost. */
  outcome: string;
  code?: string;
  elapsedMs: number;
  /** The engine kind: a1111, openai, none. */
  engine: string;
}

/** The image worker as ops sees it. */
export interface ObservedImageWorker {
  readonly id: string;
  readonly inFlight: number;
  readonly concurrency: number;
  on(event: "image", listener: (e: ImageStats) => void): unknown;
  off(event: "image", listener: (e: ImageStats) => void): unknown;
}

export interface ImageQueueSource {
  /** The image queue (createImageQueue). */
  queue: Queue;
  /** A fail-fast (producer) connection. */
  redis: Redis;
  keys: Keys;
  timeoutMs?: number;
}

export class ImageMetrics {
  private readonly queueJobs: Gauge<"state">;
  private readonly inboxMessages: Gauge;
  private readonly inFlight: Gauge;
  private readonly images: Counter<"platform" | "engine" | "outcome">;
  private readonly seconds: Histogram<"engine" | "outcome">;
  private readonly inFlightSources: Array<() => number> = [];
  private source: ImageQueueSource | undefined;
  private refreshing: Promise<void> | undefined;

  constructor(private readonly metrics: Metrics) {
    const registers = [metrics.registry];
    const refresh = () => this.refresh();
    this.queueJobs = new Gauge({
      name: IMAGE_METRIC_NAMES.imageQueueJobs,
      help: "Jobs in the image queue by state (one job = one conversation with images to make); read from Redis on scrape",
      labelNames: ["state"],
      registers,
      collect: refresh,
    });
    this.inboxMessages = new Gauge({
      name: IMAGE_METRIC_NAMES.imageInboxMessages,
      help: "/imagine requests waiting in image inboxes (including the ones being made); read from Redis on scrape",
      registers,
      collect: refresh,
    });
    const sources = this.inFlightSources;
    this.inFlight = new Gauge({
      name: IMAGE_METRIC_NAMES.imagesInFlight,
      help: "Images this process is making right now",
      registers,
      collect() {
        this.set(sources.reduce((sum, f) => sum + f(), 0));
      },
    });
    this.images = new Counter({
      name: IMAGE_METRIC_NAMES.images,
      help: "/imagine requests answered, by outcome (done, stopped, failed, refused, lockLost)",
      labelNames: ["platform", "engine", "outcome"],
      registers,
    });
    this.seconds = new Histogram({
      name: IMAGE_METRIC_NAMES.generationSeconds,
      help: "Seconds from the start of a generation to the picture (done) or to the stop (stopped), engine retries included",
      labelNames: ["engine", "outcome"],
      buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
      registers,
    });
  }

  /** Read the image queue and inbox gauges from Redis on each scrape. */
  watchQueue(source: ImageQueueSource): void {
    this.source = source;
  }

  /** Count an image worker's pictures, their time and failures, and its images in flight. */
  watchWorker(worker: ObservedImageWorker): void {
    worker.on("image", (e) => this.observe(e));
    this.inFlightSources.push(() => worker.inFlight);
  }

  observe(e: ImageStats): void {
    this.images.inc({ platform: e.request.reply.platform, engine: e.engine, outcome: e.outcome });
    if (e.outcome === "done" || e.outcome === "stopped") this.seconds.observe({ engine: e.engine, outcome: e.outcome }, e.elapsedMs / 1000);
    if (e.code) this.metrics.error(e.code);
  }

  private refresh(): Promise<void> {
    this.refreshing ??= this.read().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async read(): Promise<void> {
    const src = this.source;
    if (!src) return;
    const ms = src.timeoutMs ?? 1500;
    let timer: NodeJS.Timeout | undefined;
    try {
      const [counts, depths] = await Promise.race([
        Promise.all([src.queue.getJobCounts(...QUEUE_STATES), new ConversationInbox(src.redis, new ImageKeys(src.keys.prefix)).depths()]),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`Redis: no answer within ${ms} ms`)), ms);
        }),
      ]);
      for (const state of QUEUE_STATES) this.queueJobs.set({ state }, counts[state] ?? 0);
      this.inboxMessages.set(depths.reduce((sum, d) => sum + d.depth, 0));
    } catch {
      // Unknown is not zero (qwenbot_redis_up says why).
      this.queueJobs.reset();
      this.inboxMessages.reset();
    } finally {
      clearTimeout(timer);
    }
  }
}
