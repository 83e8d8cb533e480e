/**
 * Test harness: a unique Redis prefix per test file, the tiny model loaded once, in-process
 * workers on the real Redis, and local clients. Cleans its keys up afterwards.
 */
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { LocalChatClient } from "../../adapters/local/LocalChatClient.ts";
import { type RunningWorker, type StartWorkerOptions, startWorker } from "../../bin/wiring/startWorker.ts";
import { type Config, loadConfig } from "../../src/config.ts";
import { Keys } from "../../src/keys.ts";
import { createLogger, type Logger } from "../../src/logger.ts";
import { createChatQueue, Ingestor, ingestOptionsFrom } from "../../src/queue/Ingestor.ts";
import { createRedis } from "../../src/redisConnection.ts";
import { loadModel } from "../../workers/inference/loadModel.ts";
import { ModelRunner } from "../../workers/inference/ModelRunner.ts";
import { testRedisUrl } from "./testRedis.ts";
import { tinyModelPath } from "./tinyModel.ts";

/** The tests' Redis (see testRedis.ts): never hard-code an address. */
export const REDIS_URL = testRedisUrl();

export async function testConfig(env: Record<string, string> = {}): Promise<Config> {
  return loadConfig({
    MODEL: await tinyModelPath(),
    REDIS_URL,
    REDIS_PREFIX: `qbt-${randomUUID().slice(0, 8)}`,
    THREADS: "1",
    WORKER_CONCURRENCY: "2",
    CONTEXT_SIZE: "2048",
    MAX_NEW_TOKENS: "24",
    LOCAL_STREAM_INTERVAL_MS: "20",
    STREAM_INTERVAL_MS: "200",
    JOB_LOCK_MS: "5000",
    LOG_LEVEL: "silent",
    ...env,
  });
}

export async function loadTinyRunner(config: Config, logger: Logger = createLogger({ level: "silent" })): Promise<ModelRunner> {
  return new ModelRunner(
    await loadModel({
      model: config.MODEL,
      modelsDir: config.modelsDir,
      gpu: "false",
      threads: config.THREADS,
      contextSize: config.CONTEXT_SIZE,
      sequences: config.WORKER_CONCURRENCY,
      logger,
    }),
  );
}

export class Harness {
  readonly keys: Keys;
  readonly redis: Redis;
  readonly blocking: Redis[] = [];
  readonly ingestor: Ingestor;
  readonly queue;
  readonly logger: Logger;
  workers: RunningWorker[] = [];

  constructor(
    readonly config: Config,
    /** The local model the workers share; undefined: the workers build their engine from the config (ENGINE=openai). */
    readonly runner?: ModelRunner,
  ) {
    this.keys = new Keys(config.REDIS_PREFIX);
    this.redis = createRedis(config.REDIS_URL, "worker");
    this.queue = createChatQueue(this.redis, this.keys);
    this.ingestor = new Ingestor(this.redis, this.queue, this.keys, ingestOptionsFrom(config, { rateLimit: false }));
    this.logger = createLogger({ level: "silent" });
  }

  async startWorker(extra: Partial<StartWorkerOptions> = {}): Promise<RunningWorker> {
    const w = await startWorker({ config: this.config, logger: this.logger, runner: this.runner, ...extra });
    this.workers.push(w);
    return w;
  }

  client(room: string): LocalChatClient {
    const blocking = createRedis(this.config.REDIS_URL, "worker");
    this.blocking.push(blocking);
    return new LocalChatClient(
      { redis: this.redis, blocking, keys: this.keys, ingestor: this.ingestor, memoryTtlSeconds: this.config.MEMORY_TTL_SECONDS },
      room,
    );
  }

  /** Every key under this harness's prefix. */
  async allKeys(): Promise<string[]> {
    const out: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await this.redis.scan(cursor, "MATCH", `${this.config.REDIS_PREFIX}:*`, "COUNT", 1000);
      cursor = next;
      out.push(...batch);
    } while (cursor !== "0");
    return out;
  }

  async close(): Promise<void> {
    for (const w of this.workers) await w.close();
    this.workers = [];
    await this.queue.close();
    const keys = await this.allKeys();
    if (keys.length > 0) await this.redis.del(...keys);
    for (const b of this.blocking) b.disconnect();
    this.redis.disconnect();
  }
}
