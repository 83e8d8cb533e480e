/**
 * Image workers as real processes (`npm run worker` with WORKER_ROLES=images, no model): one
 * killed mid-picture leaves its request to another, which finishes it once in the same
 * placeholder with the same seed; /readyz reports the image engine.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WorkerProcess } from "../../../tools/chaos/WorkerProcess.ts";
import { collect, ImageHarness, imageTestConfig, until } from "../../helpers/imageHarness.ts";
import { ImageEngineSimulator } from "../../sim/images/ImageEngineSimulator.ts";
import { renderClean } from "../../sim/images/pattern.ts";
import { decodePng, meanAbsDiff } from "../../sim/images/png.ts";

let sim: ImageEngineSimulator;
let h: ImageHarness;
let env: Record<string, string>;
const procs: WorkerProcess[] = [];

beforeAll(async () => {
  sim = await ImageEngineSimulator.start({ stepDelayMs: 150 });
  h = new ImageHarness(imageTestConfig({ JOB_LOCK_MS: "2000", LOCAL_STREAM_INTERVAL_MS: "50", IMAGE_DEFAULT_STEPS: "10" }));
  env = {
    REDIS_URL: h.config.REDIS_URL,
    REDIS_PREFIX: h.config.REDIS_PREFIX,
    WORKER_ROLES: "images",
    IMAGE_ENGINE: "a1111",
    IMAGE_API_URL: sim.url,
    IMAGE_PREVIEW_INTERVAL_MS: "100",
    IMAGE_SIZES: "64x64",
    IMAGE_DEFAULT_SIZE: "64x64",
    JOB_LOCK_MS: "2000",
    LOCAL_STREAM_INTERVAL_MS: "50",
  };
});
afterEach(async () => {
  for (const p of procs.splice(0)) await p.stop();
});
afterAll(async () => {
  await h?.close();
  await sim?.stop();
});

async function readyz(proc: WorkerProcess): Promise<{ status: number; body: { checks: Record<string, string> } }> {
  await until(() => /"port":\d+/.test(proc.output), "the health server");
  const port = /"port":(\d+)/.exec(proc.output)![1];
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, body: (await res.json()) as { checks: Record<string, string> } };
}

describe("image worker processes", () => {
  it("SIGKILL mid-picture: another worker finishes it in the same placeholder, once; memory has one turn pair", async () => {
    const a = await WorkerProcess.start(env);
    procs.push(a);
    const client = h.client("sigkill");
    const request = await client.submit({ prompt: "a long exposure of the stars", seed: 31337 });
    const { updates, done } = collect(client, request);
    await until(() => updates.some((u) => u.image), "a preview from the first worker");
    a.kill("SIGKILL");
    await a.exit();
    const before = updates.length;
    const b = await WorkerProcess.start(env);
    procs.push(b);
    const final = await done;
    expect(await client.settled(request)).toBe("done");
    expect(updates.length).toBeGreaterThan(before);
    expect(updates.filter((u) => u.final)).toHaveLength(1);
    expect(final.stopped).toBeUndefined();
    expect(meanAbsDiff(decodePng(final.image!.bytes), renderClean(31337, 64, 64))).toBe(0);
    // The first generation was left behind when its worker died; the second used the same seed.
    expect(sim.generations.map((g) => [g.seed, g.status])).toEqual([
      [31337, "abandoned"],
      [31337, "done"],
    ]);
    expect((await h.turns(client.conversationKey)).map((t) => t.role)).toEqual(["user", "assistant"]);
    expect(await h.redis.zcard(h.imageKeys.inbox(client.conversationKey))).toBe(0);
    expect(a.output).toContain('"role":"images"');
    expect(a.output).not.toContain("Loading model");
  });

  it("/readyz reports the image engine: ready while it answers, 503 naming it when it does not", async () => {
    const up = await WorkerProcess.start({ ...env, METRICS_PORT: "0" });
    procs.push(up);
    const ok = await readyz(up);
    expect(ok.status).toBe(200);
    expect(ok.body.checks).toEqual({ redis: "ok", image_engine: "ok" });

    const dead = await ImageEngineSimulator.start();
    const deadUrl = dead.url;
    await dead.stop();
    const down = await WorkerProcess.start({ ...env, METRICS_PORT: "0", IMAGE_API_URL: deadUrl });
    procs.push(down);
    const bad = await readyz(down);
    expect(bad.status).toBe(503);
    expect(bad.body.checks.image_engine).toMatch(/^image engine not ready: /);
  });
});
