/**
 * What a worker records in Redis for `npm run status` (shared by every process of a deployment;
 * the key names are built in src/keys.ts):
 * - `<prefix>:stats:<minute>`: a hash per minute (epoch minutes) with `replies`, `tokens`,
 *   `gen_ms` (sum of generation time) and `ttft_ms` (sum of time to first token), kept 2 hours;
 * - `<prefix>:workers`: a sorted set of worker ids by last heartbeat (ms), and
 *   `<prefix>:worker:<id>`: a hash with its host, pid, model, backend, sequences and replies in
 *   flight, refreshed every `heartbeatMs` and expiring after three missed beats.
 */
import os from "node:os";
import path from "node:path";
import type { Redis } from "ioredis";
import type { Keys } from "../keys.ts";
import type { Logger } from "../logger.ts";
import type { EngineInfo, GenerationStats, ObservedWorker } from "./observedWorker.ts";

const STATS_TTL_SECONDS = 2 * 3600;
const DEFAULT_HEARTBEAT_MS = 10_000;

export const epochMinute = (ms: number) => Math.floor(ms / 60_000);

export interface WorkerStatsOptions {
  worker: ObservedWorker;
  engine: EngineInfo;
  redis: Redis;
  keys: Keys;
  logger?: Logger;
  heartbeatMs?: number;
}

export interface WorkerStats {
  /** Stop the heartbeat and remove this worker from the live set. */
  stop(): Promise<void>;
}

export function recordWorkerStats(opts: WorkerStatsOptions): WorkerStats {
  const { worker, engine, redis, keys } = opts;
  const heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const ttlSeconds = Math.max(1, Math.ceil((heartbeatMs * 3) / 1000));
  const warn = (err: unknown, what: string) => opts.logger?.debug({ err }, `could not record ${what}`);

  const onGeneration = (e: { result: GenerationStats }) => {
    const key = keys.statsMinute(epochMinute(Date.now()));
    redis
      .multi()
      .hincrby(key, "replies", 1)
      .hincrby(key, "tokens", e.result.generatedTokens)
      .hincrby(key, "gen_ms", Math.round(e.result.totalMs))
      .hincrby(key, "ttft_ms", Math.round(e.result.ttftMs))
      .expire(key, STATS_TTL_SECONDS)
      .exec()
      .catch((err: unknown) => warn(err, "throughput"));
  };
  worker.on("generation", onGeneration);

  const startedAt = Date.now();
  const beat = () => {
    const now = Date.now();
    redis
      .multi()
      .hset(keys.worker(worker.id), {
        host: os.hostname(),
        pid: String(process.pid),
        model: path.basename(engine.model),
        gpu: engine.backend,
        sequences: String(engine.sequences),
        inFlight: String(worker.inFlight),
        startedAt: String(startedAt),
        seenAt: String(now),
      })
      .expire(keys.worker(worker.id), ttlSeconds)
      .zadd(keys.workers, now, worker.id)
      .zremrangebyscore(keys.workers, "-inf", now - ttlSeconds * 1000)
      .exec()
      .catch((err: unknown) => warn(err, "heartbeat"));
  };
  beat();
  const timer = setInterval(beat, heartbeatMs);
  timer.unref();

  return {
    async stop() {
      clearInterval(timer);
      worker.off("generation", onGeneration);
      await redis
        .multi()
        .zrem(keys.workers, worker.id)
        .del(keys.worker(worker.id))
        .exec()
        .catch((err: unknown) => warn(err, "worker exit"));
    },
  };
}
