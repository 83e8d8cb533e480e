/**
 * Test harness for /imagine: a Redis prefix of its own, the image intake, in-process image workers
 * (no model) with an engine the test chooses (usually the loopback stand-in in test/sim/images),
 * terminal clients, reading a reply's updates, and cleanup of every key under the prefix.
 */
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { LocalImagineClient } from "../../adapters/local/LocalImagineClient.ts";
import { type RunningImageWorker, type StartImageWorkerOptions, startImageWorker } from "../../bin/wiring/startImageWorker.ts";
import { type Config, loadConfig } from "../../src/config.ts";
import { ImagineIntake, type ImagineIntakeOptions, imagineIntakeOptionsFrom } from "../../src/intake/ImagineIntake.ts";
import { ImageKeys, Keys } from "../../src/keys.ts";
import { createLogger, type Logger } from "../../src/logger.ts";
import { ConversationMemory } from "../../src/memory/ConversationMemory.ts";
import { createImageQueue } from "../../src/queue/imageQueue.ts";
import { createRedis } from "../../src/redisConnection.ts";
import type { ReplyUpdate } from "../../src/stream/RedisStreamSink.ts";
import type { ChatTurn, ImagineRequest } from "../../src/types.ts";
import { testRedisUrl } from "./testRedis.ts";

/** Settings for image tests: tiny pictures, few steps, fast updates; no model is needed. */
export function imageTestConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    REDIS_URL: testRedisUrl(),
    REDIS_PREFIX: `qbi-${randomUUID().slice(0, 8)}`,
    IMAGE_ENGINE: "a1111",
    IMAGE_SIZES: "64x64,96x64",
    IMAGE_DEFAULT_SIZE: "64x64",
    IMAGE_DEFAULT_STEPS: "8",
    IMAGE_MAX_STEPS: "20",
    IMAGE_TIMEOUT_MS: "30000",
    LOCAL_STREAM_INTERVAL_MS: "20",
    JOB_LOCK_MS: "5000",
    LOG_LEVEL: "silent",
    ...env,
  });
}

export class ImageHarness {
  readonly keys: Keys;
  readonly imageKeys: ImageKeys;
  readonly redis: Redis;
  readonly queue;
  readonly logger: Logger = createLogger({ level: "silent" });
  readonly memory: ConversationMemory;
  workers: RunningImageWorker[] = [];
  private readonly blocking: Redis[] = [];

  constructor(readonly config: Config) {
    this.keys = new Keys(config.REDIS_PREFIX);
    this.imageKeys = new ImageKeys(config.REDIS_PREFIX);
    this.redis = createRedis(config.REDIS_URL, "worker");
    this.queue = createImageQueue(this.redis, this.keys);
    this.memory = new ConversationMemory(this.redis, this.keys, config.MEMORY_TTL_SECONDS);
  }

  async startWorker(extra: Partial<StartImageWorkerOptions> = {}): Promise<RunningImageWorker> {
    const w = await startImageWorker({
      config: this.config,
      logger: this.logger,
      ...extra,
      settings: { engineRetryDelaysMs: [50, 50], sweepIntervalMs: 500, ...extra.settings },
    });
    this.workers.push(w);
    return w;
  }

  intake(opts: Partial<ImagineIntakeOptions> = {}): ImagineIntake {
    return new ImagineIntake(
      { redis: this.redis, keys: this.keys, queue: this.queue, logger: this.logger },
      { ...imagineIntakeOptionsFrom(this.config, { rateLimit: false }), ...opts },
    );
  }

  client(room: string, intake = this.intake()): LocalImagineClient {
    const blocking = createRedis(this.config.REDIS_URL, "worker");
    this.blocking.push(blocking);
    return new LocalImagineClient({ redis: this.redis, blocking, keys: this.keys, intake }, room);
  }

  turns(conv: string): Promise<ChatTurn[]> {
    return this.memory.turns(conv);
  }

  replyState(request: ImagineRequest): Promise<string | null> {
    return this.redis.hget(this.keys.reply(request.requestId), "state");
  }

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

  async closeWorkers(graceMs = 0): Promise<void> {
    for (const w of this.workers.splice(0)) await w.close(graceMs);
  }

  async close(): Promise<void> {
    await this.closeWorkers();
    await this.queue.close();
    const keys = await this.allKeys();
    if (keys.length > 0) await this.redis.del(...keys);
    for (const b of this.blocking) b.disconnect();
    this.redis.disconnect();
  }
}

/** Read a reply's updates in the background. */
export function collect(client: LocalImagineClient, request: ImagineRequest): { updates: ReplyUpdate[]; done: Promise<ReplyUpdate> } {
  const updates: ReplyUpdate[] = [];
  const done = (async () => {
    for await (const u of client.updates(request)) {
      updates.push(u);
      if (u.final) return u;
    }
    throw new Error("the reply stream ended without a final update");
  })();
  return { updates, done };
}

/** Resolves once `cond` holds (checked every 20 ms); rejects after `ms` so a broken test ends. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
