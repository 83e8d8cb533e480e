/**
 * Everything a worker process needs, wired from the config: Redis connections, the model (loaded
 * once), the sequence pool, the reply sinks, and the ChatWorker. Used by `npm run worker`,
 * `npm start`, the terminal chat's in-process worker, tests and the benchmark.
 */
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Config } from "../../src/config.ts";
import { Keys } from "../../src/keys.ts";
import type { Logger } from "../../src/logger.ts";
import type { Metrics } from "../../src/ops/metrics.ts";
import { recordWorkerStats } from "../../src/ops/workerStats.ts";
import { createChatQueue } from "../../src/queue/Ingestor.ts";
import { connectRedis, createRedis } from "../../src/redisConnection.ts";
import { SettingsStore } from "../../src/settings/SettingsStore.ts";
import { settingsOptionsFrom } from "../../src/settings/settingsCatalog.ts";
import { RedisStreamSink } from "../../src/stream/RedisStreamSink.ts";
import type { Platform, ReplySink } from "../../src/types.ts";
import { ChatWorker } from "../../workers/ChatWorker.ts";
import { loadModel } from "../../workers/inference/loadModel.ts";
import { ModelRunner } from "../../workers/inference/ModelRunner.ts";

export interface RunningWorker {
  worker: ChatWorker;
  runner: ModelRunner;
  queue: Queue;
  redis: Redis;
  /** Graceful: running replies get `graceMs` (default SHUTDOWN_GRACE_MS) to finish, then are requeued. */
  close(graceMs?: number): Promise<void>;
}

export interface StartWorkerOptions {
  config: Config;
  logger: Logger;
  /** Platform sinks (Discord, Slack) in addition to the local one. */
  sinks?: Partial<Record<Platform, ReplySink>>;
  /** Reuse an already loaded model (tests, benchmark). */
  runner?: ModelRunner;
  /** Show the model download progress bar. */
  progress?: boolean;
  /** Without the progress bar: lines about a model download (what, then progress every 10 %). */
  report?: (line: string) => void;
  sweepIntervalMs?: number;
  /** Count generations, edits, 429s and errors here (served on METRICS_PORT). */
  metrics?: Metrics;
}

export async function startWorker(opts: StartWorkerOptions): Promise<RunningWorker> {
  const { config, logger } = opts;
  const keys = new Keys(config.REDIS_PREFIX);
  const redis = createRedis(config.REDIS_URL, "worker");
  // Fail fast and clearly before spending time on the model when Redis is not there.
  await connectRedis(redis, config.REDIS_URL);
  const runner =
    opts.runner ??
    new ModelRunner(
      await loadModel({
        model: config.MODEL,
        modelsDir: config.modelsDir,
        gpu: config.GPU,
        threads: config.THREADS,
        contextSize: config.CONTEXT_SIZE,
        sequences: config.WORKER_CONCURRENCY,
        logger,
        progress: opts.progress,
        report: opts.report,
        huggingFaceEndpoint: config.HF_ENDPOINT,
      }).catch(async (err: unknown) => {
        redis.disconnect();
        throw err;
      }),
    );
  const bullConnection = createRedis(config.REDIS_URL, "worker");
  const subscriber = createRedis(config.REDIS_URL, "worker");
  const queue = createChatQueue(redis, keys);
  const sinks = { local: new RedisStreamSink(redis, keys), ...opts.sinks };
  const worker = new ChatWorker(
    {
      bullConnection,
      redis,
      subscriber,
      queue,
      keys,
      runner,
      settings: new SettingsStore(redis, keys, settingsOptionsFrom(config), logger),
      sinks: opts.metrics ? opts.metrics.instrumentSinks(sinks) : sinks,
      logger,
    },
    {
      memoryTtlSeconds: config.MEMORY_TTL_SECONDS,
      streamIntervalMs: config.STREAM_INTERVAL_MS,
      localStreamIntervalMs: config.LOCAL_STREAM_INTERVAL_MS,
      lockMs: config.JOB_LOCK_MS,
      sweepIntervalMs: opts.sweepIntervalMs,
      deliveryJobs: config.WORKER_DELIVERY_JOBS,
    },
  );
  await worker.start();
  const { loaded } = runner;
  const engine = {
    model: loaded.modelPath,
    backend: loaded.llama.gpu === false ? "cpu" : loaded.llama.gpu,
    sequences: runner.sequences,
    loadMs: loaded.loadMs,
  };
  opts.metrics?.watchWorker(worker, engine);
  // Throughput and a heartbeat in Redis, for `npm run status`.
  const stats = recordWorkerStats({ worker, engine, redis, keys, logger });
  return {
    worker,
    runner,
    queue,
    redis,
    async close(graceMs?: number) {
      await worker.close(graceMs ?? config.SHUTDOWN_GRACE_MS);
      await stats.stop();
      await queue.close();
      if (!opts.runner) await runner.close();
      for (const c of [redis, bullConnection, subscriber]) c.disconnect();
    },
  };
}
