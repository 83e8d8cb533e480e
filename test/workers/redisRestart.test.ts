/**
 * Redis restarts mid-stream (with AOF persistence, as in docker-compose): workers and readers
 * reconnect by themselves and every pending message is answered; while Redis is down, ingest
 * fails fast with a clear refusal (REDIS_UNAVAILABLE).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { Keys } from "../../src/keys.ts";
import { ConversationMemory } from "../../src/memory/ConversationMemory.ts";
import { createChatQueue, Ingestor } from "../../src/queue/Ingestor.ts";
import { connectRedis, createRedis } from "../../src/redisConnection.ts";
import type { ReplyUpdate } from "../../src/stream/RedisStreamSink.ts";
import { RedisServerProcess as PrivateRedis } from "../../tools/chaos/RedisServerProcess.ts";
import { WorkerProcess } from "../../tools/chaos/WorkerProcess.ts";
import type { ModelRunner } from "../../workers/inference/ModelRunner.ts";
import { Harness, loadTinyRunner, testConfig } from "../helpers/harness.ts";

let redis: PrivateRedis;
let h: Harness;
let runner: ModelRunner;
let worker: WorkerProcess;

beforeAll(async () => {
  redis = await PrivateRedis.start();
  const config = await testConfig({ REDIS_URL: redis.url, MAX_NEW_TOKENS: "300", JOB_LOCK_MS: "3000", LOCAL_STREAM_INTERVAL_MS: "50" });
  runner = await loadTinyRunner(config);
  h = new Harness(config, runner);
  worker = await WorkerProcess.start({
    MODEL: config.MODEL,
    REDIS_URL: redis.url,
    REDIS_PREFIX: config.REDIS_PREFIX,
    THREADS: "1",
    WORKER_CONCURRENCY: "2",
    CONTEXT_SIZE: "2048",
    MAX_NEW_TOKENS: "300",
    JOB_LOCK_MS: "3000",
    LOCAL_STREAM_INTERVAL_MS: "50",
  });
});

afterAll(async () => {
  await worker?.stop();
  await h?.close().catch(() => {});
  await runner?.close();
  await redis?.close();
});

it("pending and streaming replies survive a Redis restart; ingest fails fast while it is down", async () => {
  const clients = ["r1", "r2", "r3"].map((room) => h.client(room));
  const requests = [];
  for (const c of clients) requests.push(await c.submit(`hello from ${c.room}`));
  const updates: ReplyUpdate[][] = requests.map(() => []);
  const finals = requests.map(async (r, i) => {
    for await (const u of clients[i]!.updates(r)) {
      updates[i]!.push(u);
      if (u.final) return u;
    }
    throw new Error("no final");
  });
  const deadline = Date.now() + 30_000;
  while (updates.every((u) => u.length === 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(updates.some((u) => u.length > 0)).toBe(true);

  // An adapter's producer connection, connected while Redis was up.
  const producer = createRedis(redis.url, "producer");
  await connectRedis(producer, redis.url);
  const keys = new Keys(h.config.REDIS_PREFIX);
  const queue = createChatQueue(producer, keys);
  await queue.waitUntilReady();
  const ingestor = new Ingestor(producer, queue, keys, { maxInputChars: 1000 });
  await redis.down();
  // While Redis is down, ingest fails fast instead of hanging.
  const outcome = await ingestor.ingest({
    requestId: "local-down-1",
    conversationKey: "local:down",
    author: { id: "u", name: "u" },
    text: "are you there?",
    receivedAt: Date.now(),
    reply: { platform: "local", channelId: "down", messageId: "down-1" },
  });
  expect(outcome).toMatchObject({ status: "refused", code: "REDIS_UNAVAILABLE" });
  await queue.close().catch(() => {});
  producer.disconnect();

  await redis.up();
  const done = await Promise.all(finals);
  const memory = new ConversationMemory(h.redis, h.keys, 3600);
  for (let i = 0; i < clients.length; i++) {
    await clients[i]!.waitCommitted(requests[i]!);
    const turns = await memory.turns(clients[i]!.conversationKey);
    expect(turns.map((t) => t.role)).toEqual(["user", "assistant"]);
    expect(turns[1]!.text).toBe(done[i]!.text);
  }
  // And new work after the restart is answered too.
  const after = await clients[0]!.ask("after the restart");
  expect(after.final).toBe(true);
  expect(await memory.turns(clients[0]!.conversationKey)).toHaveLength(4);
});
