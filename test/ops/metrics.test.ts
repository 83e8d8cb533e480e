/**
 * Prometheus metrics: present on /metrics and moving after a real reply (worker on the tiny
 * model), queue and inbox gauges read from Redis at scrape time, and the sink/ingest hooks that
 * count edits, 429s and errors by code.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PlatformError, PlatformRateLimitedError } from "../../src/errors.ts";
import { Keys } from "../../src/keys.ts";
import { type HealthServer, startHealthServer } from "../../src/ops/healthServer.ts";
import { METRIC_NAMES, Metrics } from "../../src/ops/metrics.ts";
import { createChatQueue, type IngestOutcome, Ingestor } from "../../src/queue/Ingestor.ts";
import { createRedis } from "../../src/redisConnection.ts";
import type { ChatRequest, ReplySink, ReplyTarget } from "../../src/types.ts";
import type { GenerationEvent } from "../../workers/ChatWorker.ts";
import type { ModelRunner } from "../../workers/inference/ModelRunner.ts";
import { Harness, loadTinyRunner, REDIS_URL, testConfig } from "../helpers/harness.ts";

/** Sum of the samples of `name` whose labels include `labels` (undefined when there is none). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let found: number | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || !line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const pair of (m[3] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) got[pair[1]!] = pair[2]!;
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) found = (found ?? 0) + Number(m[4]);
  }
  return found;
}

async function scrape(server: HealthServer): Promise<string> {
  const res = await fetch(`${server.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/plain");
  return res.text();
}

describe("metrics of a worker answering a real message", () => {
  let runner: ModelRunner;
  let h: Harness;
  let metrics: Metrics;
  let server: HealthServer;
  const scrapeRedis = createRedis(REDIS_URL, "producer");
  const events: GenerationEvent[] = [];

  beforeAll(async () => {
    const config = await testConfig();
    runner = await loadTinyRunner(config);
    h = new Harness(config, runner);
    metrics = new Metrics();
    await scrapeRedis.connect();
    metrics.watchQueue({ queue: createChatQueue(scrapeRedis, h.keys), redis: scrapeRedis, keys: h.keys });
    const w = await h.startWorker({ metrics });
    w.worker.on("generation", (e) => events.push(e));
    server = await startHealthServer({ port: 0, metrics });
  });

  afterAll(async () => {
    await server?.close();
    await h?.close();
    await runner?.close();
    scrapeRedis.disconnect();
  });

  it("exports every metric, and the counters move after a reply", async () => {
    const before = await scrape(server);
    for (const name of Object.values(METRIC_NAMES)) expect(before).toContain(`# TYPE ${name} `);
    expect(sample(before, METRIC_NAMES.redisUp)).toBe(1);
    for (const state of ["waiting", "active", "delayed", "failed"]) expect(sample(before, METRIC_NAMES.queueJobs, { state })).toBe(0);
    expect(sample(before, METRIC_NAMES.inboxMessages)).toBe(0);
    expect(sample(before, METRIC_NAMES.repliesInFlight)).toBe(0);
    expect(sample(before, METRIC_NAMES.modelLoadSeconds)).toBeGreaterThan(0);
    expect(sample(before, METRIC_NAMES.modelInfo, { gpu: "cpu", model: "qwen2-tiny-f32-s1.gguf" })).toBe(1);
    expect(sample(before, METRIC_NAMES.tokensGenerated) ?? 0).toBe(0);
    expect(sample(before, `${METRIC_NAMES.timeToFirstToken}_count`) ?? 0).toBe(0);
    expect(before).toContain("process_cpu_seconds_total"); // Node's own process metrics too

    const client = h.client("metrics");
    const final = await client.ask("你好, how are you?");
    for (let i = 0; i < 100 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    const e = events[0]!;
    expect(final.final).toBe(true);

    const after = await scrape(server);
    const local = { platform: "local" };
    expect(sample(after, METRIC_NAMES.tokensGenerated, local)).toBe(e.result.generatedTokens);
    expect(e.result.generatedTokens).toBeGreaterThan(1);
    expect(sample(after, `${METRIC_NAMES.timeToFirstToken}_count`, local)).toBe(1);
    expect(sample(after, `${METRIC_NAMES.timeToFirstToken}_sum`, local)).toBeCloseTo(e.result.ttftMs / 1000, 6);
    expect(sample(after, `${METRIC_NAMES.timePerToken}_count`, local)).toBe(1);
    expect(sample(after, METRIC_NAMES.replies, { platform: "local", stop_reason: e.result.stopReason })).toBe(1);
    // The final edit at least; every streamed snapshot is one edit of the local sink.
    expect(sample(after, METRIC_NAMES.editsSent, { platform: "local", kind: "edit" })).toBeGreaterThanOrEqual(1);
    expect(sample(after, METRIC_NAMES.repliesInFlight)).toBe(0);
    expect(sample(after, METRIC_NAMES.inboxMessages)).toBe(0);
    expect(sample(after, METRIC_NAMES.errors) ?? 0).toBe(0);
  });
});

describe("queue and inbox gauges", () => {
  it("read the waiting jobs and inbox depth from Redis at scrape time", async () => {
    const keys = new Keys(`qbt-m-${randomUUID().slice(0, 8)}`);
    const redis = createRedis(REDIS_URL, "producer");
    await redis.connect();
    const queue = createChatQueue(redis, keys);
    const metrics = new Metrics({ defaultMetrics: false });
    metrics.watchQueue({ queue, redis, keys });
    try {
      const ingestor = new Ingestor(redis, queue, keys, { maxInputChars: 1000 });
      const request = (n: number, conv: string): ChatRequest => ({
        requestId: `m-${n}-${randomUUID()}`,
        conversationKey: conv,
        author: { id: "u", name: "u" },
        text: `message ${n}`,
        receivedAt: Date.now(),
        reply: { platform: "local", channelId: "c", messageId: `r${n}` },
      });
      await ingestor.ingest(request(1, "local:a"));
      await ingestor.ingest(request(2, "local:a"));
      await ingestor.ingest(request(3, "local:b"));
      const text = await metrics.scrape();
      // One job per conversation (deduplicated), every message counted in the inboxes.
      expect(sample(text, METRIC_NAMES.queueJobs, { state: "waiting" })).toBe(2);
      expect(sample(text, METRIC_NAMES.inboxMessages)).toBe(3);
      expect(sample(text, METRIC_NAMES.inboxConversations)).toBe(2);
      expect(sample(text, METRIC_NAMES.redisUp)).toBe(1);
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
      const left = await redis.keys(`${keys.prefix}:*`);
      if (left.length) await redis.del(...left);
      redis.disconnect();
    }
  });

  it("report Redis down (and no stale queue values) when Redis does not answer", async () => {
    const keys = new Keys(`qbt-m-${randomUUID().slice(0, 8)}`);
    const redis = createRedis("redis://127.0.0.1:1", "producer");
    redis.connect().catch(() => {});
    const queue = createChatQueue(redis, keys);
    queue.on("error", () => {});
    const metrics = new Metrics({ defaultMetrics: false });
    metrics.watchQueue({ queue, redis, keys, timeoutMs: 500 });
    const text = await metrics.scrape();
    expect(sample(text, METRIC_NAMES.redisUp)).toBe(0);
    expect(sample(text, METRIC_NAMES.queueJobs, { state: "waiting" })).toBeUndefined();
    await queue.close().catch(() => {});
    redis.disconnect();
  });
});

describe("instrumented sinks and ingest", () => {
  const target: ReplyTarget = { platform: "discord", channelId: "c", messageId: "m" };

  function fakeSink(failures: unknown[]): ReplySink & { edits: string[] } {
    const edits: string[] = [];
    return {
      edits,
      maxLength: 2000,
      minEditIntervalMs: 1234,
      async edit(_t, text) {
        const f = failures.shift();
        if (f) throw f;
        edits.push(text);
      },
      async post(after) {
        return { ...after, messageId: "m2" };
      },
    };
  }

  it("counts accepted edits and posts, 429s by platform and other failures by code, and passes everything else through", async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const inner = fakeSink([new PlatformRateLimitedError(500), new PlatformError("boom", 500), new Error("weird")]);
    const sink = metrics.instrumentSink("discord", inner);
    await expect(sink.edit(target, "a", { final: false })).rejects.toBeInstanceOf(PlatformRateLimitedError);
    await expect(sink.edit(target, "b", { final: false })).rejects.toBeInstanceOf(PlatformError);
    await expect(sink.edit(target, "c", { final: false })).rejects.toThrow("weird");
    await sink.edit(target, "d", { final: true });
    expect(await sink.post(target, "e")).toMatchObject({ messageId: "m2" });
    expect(inner.edits).toEqual(["d"]);
    expect(sink.maxLength).toBe(2000);
    expect(sink.minEditIntervalMs).toBe(1234);
    expect(sink.queued).toBeUndefined(); // absent stays absent (the worker checks for it)

    const text = await metrics.scrape();
    expect(sample(text, METRIC_NAMES.rateLimited, { platform: "discord" })).toBe(1);
    expect(sample(text, METRIC_NAMES.errors, { code: "PLATFORM_ERROR" })).toBe(1);
    expect(sample(text, METRIC_NAMES.errors, { code: "UNEXPECTED" })).toBe(1);
    expect(sample(text, METRIC_NAMES.editsSent, { platform: "discord", kind: "edit" })).toBe(1);
    expect(sample(text, METRIC_NAMES.editsSent, { platform: "discord", kind: "post" })).toBe(1);
  });

  it("hands every argument of edit, post, queued and acquireBudget to the sink unchanged (opts included)", async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const calls: Array<[string, ...unknown[]]> = [];
    const recording: ReplySink = {
      maxLength: 2000,
      async edit(...args) {
        calls.push(["edit", ...args]);
      },
      async post(...args) {
        calls.push(["post", ...args]);
        return { ...args[0], messageId: "m2" };
      },
      async queued(...args) {
        calls.push(["queued", ...args]);
      },
      async acquireBudget(...args) {
        calls.push(["acquireBudget", ...args]);
      },
    };
    const sink = metrics.instrumentSink("discord", recording);
    const last = { final: true, last: true, note: "stopped" };
    await sink.acquireBudget!(target);
    await sink.edit(target, "first", { final: true, last: false });
    await sink.post(target, "second", last);
    await sink.edit(target, "interim", { final: false, note: "interrupted" });
    await sink.queued!(target, 3);
    expect(calls).toEqual([
      ["acquireBudget", target],
      ["edit", target, "first", { final: true, last: false }],
      ["post", target, "second", last],
      ["edit", target, "interim", { final: false, note: "interrupted" }],
      ["queued", target, 3],
    ]);
    expect(calls[2]![3]).toBe(last);
  });

  it("keeps a sink's own methods bound to it", async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    class BudgetSink {
      readonly maxLength = 100;
      readonly taken: string[] = [];
      async edit() {}
      async post(after: ReplyTarget) {
        return after;
      }
      async acquireBudget(t: ReplyTarget) {
        this.taken.push(t.messageId);
      }
    }
    const inner = new BudgetSink();
    const sink = metrics.instrumentSink("slack", inner);
    await sink.acquireBudget(target);
    expect(inner.taken).toEqual(["m"]);
  });

  it("counts refused messages by code", async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const ingestor = metrics.instrumentIngestor({
      ingest: async (_request: ChatRequest): Promise<IngestOutcome> => ({ status: "refused", code: "QUEUE_FULL", userMessage: "full" }),
    });
    expect(await ingestor.ingest({} as ChatRequest)).toMatchObject({ status: "refused", code: "QUEUE_FULL" });
    expect(sample(await metrics.scrape(), METRIC_NAMES.errors, { code: "QUEUE_FULL" })).toBe(1);
  });
});
