/**
 * /imagine in operations: the image queue, image inboxes and images in flight on /metrics (read
 * from Redis at scrape time), pictures by outcome, generation time and failures by code, image
 * updates counted as edits; `npm run status` (and its reader) with the image section and the image
 * worker among the live workers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IMAGE_METRIC_NAMES } from "../../src/ops/imageMetrics.ts";
import { METRIC_NAMES } from "../../src/ops/metrics.ts";
import { formatStatus, readStatus } from "../../src/ops/readStatus.ts";
import { type Ops, startOps } from "../../src/ops/startOps.ts";
import { createChatQueue } from "../../src/queue/Ingestor.ts";
import { A1111Engine } from "../../workers/images/A1111Engine.ts";
import type { ImageWorker } from "../../workers/images/ImageWorker.ts";
import { collect, ImageHarness, imageTestConfig, until } from "../helpers/imageHarness.ts";
import { runCli } from "../helpers/runCli.ts";
import { ImageEngineSimulator } from "../sim/images/ImageEngineSimulator.ts";

/** Sum of the samples of `name` whose labels include `labels` (undefined when there is none). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let found: number | undefined;
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const pair of (m[3] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) got[pair[1]!] = pair[2]!;
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) found = (found ?? 0) + Number(m[4]);
  }
  return found;
}

let sim: ImageEngineSimulator;
let h: ImageHarness;
let ops: Ops;
let engine: A1111Engine;
let worker: ImageWorker;
let answered = 0;

const scrape = async () => (await fetch(`${ops.server.url}/metrics`)).text();

beforeAll(async () => {
  sim = await ImageEngineSimulator.start({ stepDelayMs: 20 });
  h = new ImageHarness(imageTestConfig());
  ops = (await startOps({ config: h.config, logger: h.logger, port: 0 }))!;
  engine = new A1111Engine({ baseUrl: sim.url, timeoutMs: 30_000, previewIntervalMs: 15 });
  worker = (await h.startWorker({ engine, metrics: ops.metrics, imageMetrics: ops.images })).worker;
  worker.on("image", () => answered++);
});
afterAll(async () => {
  await h?.close();
  await engine?.close();
  await ops?.close();
  await sim?.stop();
});

describe("image metrics and status", () => {
  it("count pictures, failures, time and updates; the queue, inbox and in-flight gauges follow a picture being made", async () => {
    const before = await scrape();
    for (const name of Object.values(IMAGE_METRIC_NAMES)) expect(before).toContain(`# TYPE ${name} `);
    expect(sample(before, IMAGE_METRIC_NAMES.imageQueueJobs, { state: "waiting" })).toBe(0);
    expect(sample(before, IMAGE_METRIC_NAMES.imagesInFlight)).toBe(0);

    const client = h.client("metrics");
    const ok = await client.submit({ prompt: "counted" });
    await collect(client, ok).done;
    sim.failNext("txt2img", { status: 500 });
    const bad = await client.submit({ prompt: "failed" });
    await collect(client, bad).done;
    await until(() => answered === 2, "both requests answered");

    const after = await scrape();
    const local = { platform: "local", engine: "a1111" };
    expect(sample(after, IMAGE_METRIC_NAMES.images, { ...local, outcome: "done" })).toBe(1);
    expect(sample(after, IMAGE_METRIC_NAMES.images, { ...local, outcome: "failed" })).toBe(1);
    expect(sample(after, `${IMAGE_METRIC_NAMES.generationSeconds}_count`, { engine: "a1111", outcome: "done" })).toBe(1);
    expect(sample(after, `${IMAGE_METRIC_NAMES.generationSeconds}_sum`, { engine: "a1111", outcome: "done" })).toBeGreaterThan(0);
    expect(sample(after, METRIC_NAMES.errors, { code: "IMAGE_ENGINE_FAILED" })).toBe(1);
    expect(sample(after, METRIC_NAMES.editsSent, { platform: "local", kind: "image" })).toBeGreaterThanOrEqual(2);

    sim.set({ stallAtStep: 2 });
    const slow = await client.submit({ prompt: "in flight" });
    const { done } = collect(client, slow);
    await until(() => sim.running?.prompt === "in flight", "the picture to start");
    const during = await scrape();
    expect(sample(during, IMAGE_METRIC_NAMES.imagesInFlight)).toBe(1);
    expect(sample(during, IMAGE_METRIC_NAMES.imageInboxMessages)).toBe(1);
    expect(sample(during, IMAGE_METRIC_NAMES.imageQueueJobs, { state: "active" })).toBe(1);
    await client.stop(slow);
    await done;
    sim.set({ stallAtStep: undefined });
    await until(() => answered === 3, "the stopped request answered");
    expect(sample(await scrape(), IMAGE_METRIC_NAMES.images, { ...local, outcome: "stopped" })).toBe(1);
  });

  it("npm run status shows the image queue, what was made and failed, and the image worker", async () => {
    await new Promise((r) => setTimeout(r, 50)); // the stats writes follow the events
    const chat = createChatQueue(h.redis, h.keys);
    const report = await readStatus({ redis: h.redis, queue: chat, keys: h.keys, imageQueue: h.queue });
    await chat.close();
    expect(report.images?.queue).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0 });
    expect(report.images?.throughput[0]).toMatchObject({ minutes: 1, images: 2, failures: 1 });
    expect(report.images?.throughput[0]?.meanMs).toBeGreaterThan(0);
    expect(report.workers.live).toEqual([
      expect.objectContaining({ id: worker.id, role: "images", model: "a1111", sequences: 1, pid: process.pid }),
    ]);
    const text = formatStatus(report);
    expect(text).toMatch(/^Images {6}waiting 0 · active 0 · delayed 0 · failed 0$/m);
    expect(text).toMatch(/last 1 min\s+2\s+1\s+\d+\.\d s/);

    const cli = await runCli("bin/status.ts", [], { env: { REDIS_PREFIX: h.config.REDIS_PREFIX } });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain(`${worker.id}`);
    expect(cli.stdout).toMatch(/images {2}a1111 {2}0\/1 in flight/);
    expect(cli.stdout).toMatch(/^Images {6}waiting 0/m);
  });
});
