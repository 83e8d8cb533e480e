/**
 * Everything a worker process needs, wired from the config: Redis connections, the engine (ENGINE:
 * `local` loads the model once, `openai` connects to a server speaking OpenAI's chat completions),
 * the reply sinks, and the ChatWorker. Used by `npm run worker`, `npm start`, the terminal chat's
 * in-process worker, tests and the benchmark.
 *
 * No job is taken before the engine is ready: a remote server that does not answer is probed
 * until it does (one log line per retry window, /readyz says why); one that never will as
 * configured (unknown OPENAI_MODEL, rejected key) fails the start with a clear error.
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
import type { Engine } from "../../workers/engine/Engine.ts";
import { LocalEngine } from "../../workers/engine/local/LocalEngine.ts";
import { OpenAIEngine, openAIEngineOptions } from "../../workers/engine/openai/OpenAIEngine.ts";
import { loadModel } from "../../workers/inference/loadModel.ts";
import { ModelRunner } from "../../workers/inference/ModelRunner.ts";

export interface RunningWorker {
  worker: ChatWorker;
  engine: Engine;
  /** The local engine's runner (undefined with a remote engine). */
  runner: ModelRunner | undefined;
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
  /** Reuse an already loaded model (tests, benchmark): the local engine on it. */
  runner?: ModelRunner;
  /** Use this engine (tests, benchmark; not closed with the worker). Wins over `runner` and ENGINE. */
  engine?: Engine;
  /** Told the engine as soon as it exists, before it is ready (readiness checks). */
  onEngine?: (engine: Engine) => void;
  /** Aborts the wait for the engine (shutdown before it was ever ready). */
  signal?: AbortSignal;
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
  let engine: Engine;
  let runner: ModelRunner | undefined;
  if (opts.engine) {
    engine = opts.engine;
    runner = engine instanceof LocalEngine ? engine.runner : undefined;
  } else if (config.ENGINE === "openai" && !opts.runner) {
    engine = OpenAIEngine.start(openAIEngineOptions(config, logger));
  } else {
    runner = opts.runner ?? (await loadRunner(opts, redis));
    engine = new LocalEngine(runner);
  }
  const ownsEngine = !opts.engine && !opts.runner;
  opts.onEngine?.(engine);
  if (engine.readiness() !== undefined) logger.info({ engine: engine.kind }, "waiting for the engine before taking jobs");
  try {
    await engine.whenReady(opts.signal);
  } catch (err) {
    if (ownsEngine) await engine.close();
    redis.disconnect();
    throw err;
  }
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
      engine,
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
  const info = {
    model: runner ? runner.loaded.modelPath : engine.info.model,
    backend: runner ? (runner.loaded.llama.gpu === false ? "cpu" : runner.loaded.llama.gpu) : engine.info.backend,
    sequences: engine.slots,
    loadMs: runner?.loaded.loadMs ?? 0,
  };
  opts.metrics?.watchWorker(worker, info);
  // Throughput and a heartbeat in Redis, for `npm run status`.
  const stats = recordWorkerStats({ worker, engine: info, redis, keys, logger });
  return {
    worker,
    engine,
    runner,
    queue,
    redis,
    async close(graceMs?: number) {
      await worker.close(graceMs ?? config.SHUTDOWN_GRACE_MS);
      await stats.stop();
      await queue.close();
      if (ownsEngine) await engine.close();
      for (const c of [redis, bullConnection, subscriber]) c.disconnect();
    },
  };
}

/** Load `MODEL` for the local engine (Redis is let go when that fails). */
async function loadRunner(opts: StartWorkerOptions, redis: Redis): Promise<ModelRunner> {
  const { config, logger } = opts;
  return new ModelRunner(
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
}

/**
 * /readyz's `model` check for a process with a text worker: the model still loading, the engine's
 * own reason (a remote server not answering, unknown model), or ready once the worker takes jobs.
 */
export function engineReadiness(engine: Engine | undefined, takingJobs: boolean): string | undefined {
  if (!engine) return "loading the model";
  const reason = engine.readiness();
  if (reason !== undefined) return engine.kind === "local" ? reason : `engine: ${reason}`;
  return takingJobs ? undefined : "starting the worker";
}
