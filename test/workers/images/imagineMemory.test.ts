/**
 * /imagine and text share a conversation's memory, not its line: a picture is remembered as a
 * turn pair the next text question sees (the real text worker with the tiny model), a text reply
 * is not held up by a picture still being made in the same conversation, and a reset while a
 * picture is being made keeps it out of the fresh memory (the commit's epoch fence).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalImagineClient } from "../../../adapters/local/LocalImagineClient.ts";
import { type RunningImageWorker, startImageWorker } from "../../../bin/wiring/startImageWorker.ts";
import type { Config } from "../../../src/config.ts";
import { ImagineIntake, imagineIntakeOptionsFrom } from "../../../src/intake/ImagineIntake.ts";
import { createImageQueue } from "../../../src/queue/imageQueue.ts";
import { createRedis } from "../../../src/redisConnection.ts";
import type { GenerationEvent } from "../../../workers/ChatWorker.ts";
import { A1111Engine } from "../../../workers/images/A1111Engine.ts";
import type { ModelRunner } from "../../../workers/inference/ModelRunner.ts";
import { Harness, loadTinyRunner, testConfig } from "../../helpers/harness.ts";
import { collect, until } from "../../helpers/imageHarness.ts";
import { ImageEngineSimulator } from "../../sim/images/ImageEngineSimulator.ts";

let sim: ImageEngineSimulator;
let config: Config;
let runner: ModelRunner;
let h: Harness;
let images: RunningImageWorker;
let engine: A1111Engine;
let intake: ImagineIntake;
const queue = () => createImageQueue(h.redis, h.keys);
const events: GenerationEvent[] = [];
const blocking = [] as ReturnType<typeof createRedis>[];

function imageClient(room: string): LocalImagineClient {
  const b = createRedis(config.REDIS_URL, "worker");
  blocking.push(b);
  return new LocalImagineClient({ redis: h.redis, blocking: b, keys: h.keys, intake }, room);
}

beforeAll(async () => {
  sim = await ImageEngineSimulator.start({ stepDelayMs: 10 });
  config = await testConfig({ IMAGE_ENGINE: "a1111", IMAGE_SIZES: "64x64", IMAGE_DEFAULT_SIZE: "64x64", IMAGE_DEFAULT_STEPS: "4" });
  runner = await loadTinyRunner(config);
  h = new Harness(config, runner);
  const w = await h.startWorker();
  w.worker.on("generation", (e) => events.push(e));
  engine = new A1111Engine({ baseUrl: sim.url, timeoutMs: 30_000, previewIntervalMs: 15 });
  images = await startImageWorker({ config, logger: h.logger, engine });
  intake = new ImagineIntake(
    { redis: h.redis, keys: h.keys, queue: queue(), logger: h.logger },
    imagineIntakeOptionsFrom(config, { rateLimit: false }),
  );
});
afterAll(async () => {
  await images?.close(0);
  await engine?.close();
  await h?.close();
  await runner?.close();
  await sim?.stop();
  for (const b of blocking) b.disconnect();
});

describe("pictures in a conversation's memory", () => {
  it("the next text question sees the picture as a turn pair", async () => {
    const pictures = imageClient("shared");
    const request = await pictures.submit({ prompt: "a red bicycle", seed: 8 });
    await collect(pictures, request).done;
    await pictures.settled(request);
    await h.client("shared").ask("what colour was the bicycle?");
    await until(() => events.length > 0, "the text reply");
    const seen = events.at(-1)!.history.map((t) => [t.role, t.text]);
    expect(seen).toEqual([
      ["user", "/imagine a red bicycle"],
      ["assistant", "[image: 64×64, seed 8, 4 steps] a red bicycle"],
    ]);
    expect(await h.client("shared").turnCount()).toBe(4);
  });

  it("a text reply is not held up by a picture still being made in the same conversation", async () => {
    sim.set({ stallAtStep: 1 });
    const pictures = imageClient("parallel");
    const request = await pictures.submit({ prompt: "a very slow picture" });
    const { updates, done } = collect(pictures, request);
    await until(() => sim.running?.prompt === "a very slow picture", "the picture to start");
    const answer = await h.client("parallel").ask("hello while you draw");
    expect(answer.final).toBe(true);
    expect(updates.some((u) => u.final)).toBe(false);
    await pictures.stop(request);
    expect((await done).stopped).toBe(true);
    sim.set({ stallAtStep: undefined });
  });

  it("a reset while a picture is being made keeps it out of the fresh memory", async () => {
    sim.set({ stallAtStep: 2 });
    const pictures = imageClient("reset");
    const request = await pictures.submit({ prompt: "a forgotten picture" });
    const { done } = collect(pictures, request);
    await until(() => sim.running?.prompt === "a forgotten picture", "the picture to start");
    await h.client("reset").reset();
    sim.set({ stallAtStep: undefined });
    sim.running!.step = 0; // let it run to the end now
    await pictures.stop(request).catch(() => undefined);
    await done;
    await pictures.settled(request);
    expect(await h.client("reset").turnCount()).toBe(0);
  });
});
