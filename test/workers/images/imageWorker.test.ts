/**
 * The image worker against the loopback engine stand-in, through the real Redis and the local
 * sink: previews in place and the final PNG, Stop, every engine failure ending with a note and
 * nothing stuck, no engine configured, order within a conversation, the memory turn, shutdown
 * and a redelivery after a crash between the final update and the commit.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { InputRejectedError } from "../../../src/errors.ts";
import { IMAGE_ENGINE_NOT_CONFIGURED_MESSAGE, IMAGINE_TEXT } from "../../../src/images/imagineText.ts";
import { ConversationInbox } from "../../../src/queue/ConversationInbox.ts";
import { A1111Engine } from "../../../workers/images/A1111Engine.ts";
import { DisabledImageEngine } from "../../../workers/images/createImageEngine.ts";
import type { ImageEngine } from "../../../workers/images/ImageEngine.ts";
import type { ImageEvent } from "../../../workers/images/ImageWorker.ts";
import { OpenAIImageEngine } from "../../../workers/images/OpenAIImageEngine.ts";
import { collect, ImageHarness, imageTestConfig, until } from "../../helpers/imageHarness.ts";
import { ImageEngineSimulator } from "../../sim/images/ImageEngineSimulator.ts";
import { renderClean, renderStep } from "../../sim/images/pattern.ts";
import { decodePng, meanAbsDiff } from "../../sim/images/png.ts";

let sim: ImageEngineSimulator;
let h: ImageHarness;
const engines: ImageEngine[] = [];

function a1111(opts: { timeoutMs?: number; baseUrl?: string } = {}): A1111Engine {
  const e = new A1111Engine({
    baseUrl: opts.baseUrl ?? sim.url,
    timeoutMs: opts.timeoutMs ?? 30_000,
    previewIntervalMs: 15,
    interruptGraceMs: 2000,
  });
  engines.push(e);
  return e;
}

async function worker(engine: ImageEngine = a1111()) {
  const w = await h.startWorker({ engine });
  const events: ImageEvent[] = [];
  w.worker.on("image", (e) => events.push(e));
  return { w, events };
}

beforeAll(async () => {
  sim = await ImageEngineSimulator.start({ stepDelayMs: 25 });
  h = new ImageHarness(imageTestConfig({ IMAGE_TIMEOUT_MS: "1000" }));
});
afterEach(async () => {
  await h.closeWorkers();
  await Promise.all(engines.splice(0).map((e) => e.close()));
  sim.set({ stepDelayMs: 25, stallAtStep: undefined, progressFailAfter: undefined, progressFault: undefined });
  sim.requests.length = 0;
  sim.generations.length = 0;
});
afterAll(async () => {
  await h?.close();
  await sim?.stop();
});

describe("an /imagine answered", () => {
  it("streams previews in place, then the final PNG with prompt, size, steps and seed; memory keeps one turn pair", async () => {
    const { events } = await worker();
    const client = h.client("happy");
    const request = await client.submit({ prompt: "a lighthouse at dawn", seed: 4242, negativePrompt: "blurry" });
    const { updates, done } = collect(client, request);
    const final = await done;
    expect(await client.settled(request)).toBe("done");

    const previews = updates.filter((u) => u.image && !u.final);
    expect(previews.length).toBeGreaterThan(0);
    expect(previews[0]!.text).toMatch(/^Generating the image… step \d+\/8$/);
    expect(previews[0]!.image!.filename).toMatch(/^preview-\d+\.png$/);
    expect(updates.filter((u) => u.final)).toHaveLength(1);
    expect(final.stopped).toBeUndefined();
    expect(final.image!.filename).toBe("imagine-4242.png");
    expect(final.image!.alt).toBe("a lighthouse at dawn");
    expect(final.text).toBe("a lighthouse at dawn\nnot: blurry\n64×64 · 8 steps · seed 4242");
    const png = decodePng(final.image!.bytes);
    expect([png.width, png.height]).toEqual([64, 64]);
    expect(meanAbsDiff(png, renderClean(4242, 64, 64))).toBe(0);
    // A preview is an earlier, noisier step of the same picture.
    expect(meanAbsDiff(decodePng(previews[0]!.image!.bytes), renderClean(4242, 64, 64))).toBeGreaterThan(0);

    expect(sim.generations.map((g) => [g.prompt, g.negativePrompt, g.seed, g.steps, g.width])).toEqual([
      ["a lighthouse at dawn", "blurry", 4242, 8, 64],
    ]);
    expect(await h.turns(client.conversationKey)).toMatchObject([
      { role: "user", text: "/imagine a lighthouse at dawn (not: blurry)", name: "user" },
      { role: "assistant", text: "[image: 64×64, seed 4242, 8 steps] a lighthouse at dawn" },
    ]);
    expect(await h.redis.zcard(h.imageKeys.inbox(client.conversationKey))).toBe(0);
    expect(await h.redis.exists(h.imageKeys.imageResult(request.requestId))).toBe(0);
    await until(() => events.length > 0, "the image event");
    expect(events.map((e) => [e.outcome, e.engine, e.commit])).toEqual([["done", "a1111", "OK"]]);
  });

  it("answers the images of one conversation in order, each in its own placeholder", async () => {
    await worker();
    const client = h.client("order");
    const prompts = ["first picture", "second picture", "third picture"];
    const requests = [];
    for (const prompt of prompts) requests.push(await client.submit({ prompt }));
    // One reader per reply (each blocks its own connection).
    const finals = await Promise.all(requests.map((r) => collect(h.client("order"), r).done));
    for (const r of requests) await client.settled(r);
    expect(sim.generations.map((g) => g.prompt)).toEqual(prompts);
    expect(finals.map((f) => f.text.split("\n")[0])).toEqual(prompts);
    expect(
      (await h.turns(client.conversationKey)).filter((t) => t.role === "assistant").map((t) => t.text.replace(/^\[[^\]]*\] /, "")),
    ).toEqual(prompts);
  });

  it("an OpenAI-compatible engine (no previews): the elapsed time, then the picture with the seed it was told", async () => {
    const engine = new OpenAIImageEngine({ baseUrl: sim.openaiUrl, dialect: "sdcpp", timeoutMs: 30_000 });
    engines.push(engine);
    const { events } = await worker(engine);
    sim.set({ stepDelayMs: 150 });
    const client = h.client("openai");
    const request = await client.submit({ prompt: "a paper boat", seed: 12, steps: "10" });
    const { updates, done } = collect(client, request);
    const final = await done;
    expect(updates.filter((u) => !u.final).map((u) => u.text)).toEqual(
      expect.arrayContaining(["Generating the image…", "Generating the image… 1 s"]),
    );
    expect(updates.some((u) => u.image && !u.final)).toBe(false);
    expect(final.text).toBe("a paper boat\n64×64 · 10 steps · seed 12");
    expect(meanAbsDiff(decodePng(final.image!.bytes), renderClean(12, 64, 64))).toBe(0);
    expect(sim.generations.map((g) => [g.api, g.seed, g.steps])).toEqual([["openai", 12, 10]]);
    await until(() => events.length > 0, "the image event");
    expect(events.map((e) => [e.outcome, e.engine])).toEqual([["done", "openai"]]);
  });

  it("progress that stops answering only costs the previews: the picture still arrives", async () => {
    await worker();
    sim.set({ progressFailAfter: 1 });
    const client = h.client("progress-fails");
    const request = await client.submit({ prompt: "a quiet harbour", seed: 7 });
    const final = await collect(client, request).done;
    expect(final.image).toBeDefined();
    expect(meanAbsDiff(decodePng(final.image!.bytes), renderClean(7, 64, 64))).toBe(0);
    expect(await client.settled(request)).toBe("done");
  });
});

describe("Stop and shutdown", () => {
  it("Stop interrupts the engine and keeps the last preview, marked stopped; memory says so", async () => {
    await worker();
    sim.set({ stallAtStep: 3 });
    const client = h.client("stop");
    const request = await client.submit({ prompt: "a storm at sea", seed: 99 });
    const { updates, done } = collect(client, request);
    await until(() => updates.some((u) => u.image && u.text.includes("step 3/8")), "the preview of step 3");
    await client.stop(request);
    const final = await done;
    expect(final.stopped).toBe(true);
    expect(final.text).toBe("a storm at sea\nstopped at step 3/8 · 64×64 · seed 99");
    expect(meanAbsDiff(decodePng(final.image!.bytes), renderStep(99, 64, 64, 3, 8))).toBe(0);
    expect(sim.interrupts).toBeGreaterThanOrEqual(1);
    expect(sim.generations[0]!.status).toBe("interrupted");
    expect(await client.settled(request)).toBe("done");
    expect((await h.turns(client.conversationKey)).map((t) => t.text)).toEqual([
      "/imagine a storm at sea",
      "[image: 64×64, seed 99, stopped at step 3 of 8] a storm at sea",
    ]);
  });

  it("a worker shutting down mid-picture says so and hands it back; another worker finishes it in the same placeholder", async () => {
    const first = await worker();
    sim.set({ stallAtStep: 2 });
    const client = h.client("shutdown");
    const request = await client.submit({ prompt: "a slow sunrise", seed: 5 });
    const { updates, done } = collect(client, request);
    await until(() => updates.some((u) => u.image), "a preview");
    await first.w.close(50);
    h.workers.splice(h.workers.indexOf(first.w), 1);
    await until(() => updates.some((u) => u.text.includes(IMAGINE_TEXT.interrupted)), "the interruption note");
    expect(await h.turns(client.conversationKey)).toEqual([]);
    sim.set({ stallAtStep: undefined });
    await worker();
    const final = await done;
    expect(updates.filter((u) => u.final)).toHaveLength(1);
    expect(final.stopped).toBeUndefined();
    expect(meanAbsDiff(decodePng(final.image!.bytes), renderClean(5, 64, 64))).toBe(0);
    await client.settled(request);
    expect(await h.turns(client.conversationKey)).toHaveLength(2);
  });

  it("a picture decided before a crash is delivered again from Redis, not made again, and committed once", async () => {
    const client = h.client("redeliver");
    const request = await client.submit({ prompt: "a saved picture", seed: 11 });
    // What an attempt that died between its final update and its commit leaves behind.
    const inbox = new ConversationInbox(h.redis, h.imageKeys);
    const bytes = Buffer.from((await a1111().generate({ prompt: "x", width: 96, height: 64, steps: 2, seed: 11 })).image);
    sim.generations.length = 0;
    await h.redis.hset(h.imageKeys.imageResult(request.requestId), {
      bytes,
      mime: "image/png",
      filename: "imagine-11.png",
      alt: "a saved picture",
      stopped: "0",
    });
    const turns = [
      { role: "user" as const, text: "/imagine a saved picture", at: 1 },
      { role: "assistant" as const, text: "[image: 96×64, seed 11, 2 steps] a saved picture", at: 2 },
    ];
    await inbox.decide(request.requestId, undefined, {
      text: "decided caption",
      turns,
      dropOldest: 0,
      replaceLastAssistant: false,
      epoch: "0",
    });
    await worker();
    const final = await collect(client, request).done;
    expect(final.text).toBe("decided caption");
    expect(final.image!.bytes.equals(bytes)).toBe(true);
    expect(sim.generations).toEqual([]);
    await client.settled(request);
    expect((await h.turns(client.conversationKey)).map((t) => t.text)).toEqual(turns.map((t) => t.text));
  });
});

describe("recovery in process", () => {
  it("the sweeper re-adds work for an image inbox left without a job", async () => {
    const client = h.client("swept");
    const request = await client.submit({ prompt: "a lost signal" });
    await h.queue.drain(); // the job that says "this conversation has an image to make" is gone
    expect(await h.redis.zcard(h.imageKeys.inbox(client.conversationKey))).toBe(1);
    await worker();
    const final = await collect(client, request).done;
    expect(final.image).toBeDefined();
    expect(await client.settled(request)).toBe("done");
  });

  it("a worker whose job lock was taken stops updating and does not commit; the picture is delivered once", async () => {
    const { w, events } = await worker();
    let lost = 0;
    w.worker.on("lockLost", () => lost++);
    sim.set({ stepDelayMs: 80 });
    const client = h.client("contested");
    const request = await client.submit({ prompt: "a contested picture", seed: 21, steps: "16" });
    const { updates, done } = collect(client, request);
    await until(() => updates.some((u) => u.image), "a preview");
    // The job's lock (not BullMQ's deduplication keys, which end in the conversation key).
    const locks = (await h.redis.keys(h.imageKeys.jobLock("*"))).filter((k) => /:images:\d+:lock$/.test(k));
    expect(locks).toHaveLength(1);
    await h.redis.set(locks[0]!, "someone-else", "PX", 1500);
    await until(() => lost > 0, "the lock loss to be noticed");
    const final = await done;
    expect(updates.filter((u) => u.final)).toHaveLength(1);
    expect(meanAbsDiff(decodePng(final.image!.bytes), renderClean(21, 64, 64))).toBe(0);
    await client.settled(request);
    expect(await h.turns(client.conversationKey)).toHaveLength(2);
    expect(events.map((e) => e.outcome)).toEqual(["lockLost", "done"]);
  }, 60_000);
});

describe("when the engine cannot deliver", () => {
  it("engine down: tries again, then a clear note; nothing is remembered and the next request still runs", async () => {
    const dead = await ImageEngineSimulator.start();
    const deadUrl = dead.url;
    await dead.stop();
    await worker(a1111({ baseUrl: deadUrl }));
    const client = h.client("down");
    const request = await client.submit({ prompt: "a castle" });
    const next = await client.submit({ prompt: "another castle" });
    const { updates, done } = collect(client, request);
    const final = await done;
    expect(updates.some((u) => u.text.startsWith("The image engine is not answering — trying again"))).toBe(true);
    expect(final.image).toBeUndefined();
    expect(final.note).toBe(IMAGINE_TEXT.unavailable);
    expect(await client.settled(request)).toBe("failed");
    expect((await collect(client, next).done).note).toBe(IMAGINE_TEXT.unavailable);
    expect(await h.turns(client.conversationKey)).toEqual([]);
    expect(await h.redis.zcard(h.imageKeys.inbox(client.conversationKey))).toBe(0);
  });

  it("engine error (500): a clear note, not retried", async () => {
    const { events } = await worker();
    sim.failNext("txt2img", { status: 500, body: { error: "OutOfMemoryError", detail: "CUDA out of memory" } });
    const client = h.client("error");
    const request = await client.submit({ prompt: "a huge mural" });
    const final = await collect(client, request).done;
    expect(final.note).toBe(IMAGINE_TEXT.failed);
    expect(final.note).not.toContain("CUDA"); // the engine's own words stay in the logs
    expect(await client.settled(request)).toBe("failed");
    await until(() => events.length > 0, "the image event");
    expect(events.map((e) => [e.outcome, e.code])).toEqual([["failed", "IMAGE_ENGINE_FAILED"]]);
    expect(sim.requestsTo("txt2img")).toHaveLength(1);
  });

  it("a generation that never finishes: timed out, the last preview kept with the note", async () => {
    await worker(a1111({ timeoutMs: 1000 }));
    sim.set({ stallAtStep: 2 });
    const client = h.client("timeout");
    const request = await client.submit({ prompt: "an endless staircase" });
    const final = await collect(client, request).done;
    expect(final.stopped).toBe(true);
    expect(final.image).toBeDefined();
    expect(final.text).toContain(IMAGINE_TEXT.timedOut(1));
    expect(sim.interrupts).toBeGreaterThanOrEqual(1);
    expect(await client.settled(request)).toBe("failed");
    expect(await h.turns(client.conversationKey)).toEqual([]);
  });

  it("no engine configured: a worker answers how to set one up; the intake refuses before queueing", async () => {
    await worker(new DisabledImageEngine());
    const client = h.client("none");
    const request = await client.submit({ prompt: "anything" });
    const final = await collect(client, request).done;
    expect(final.note).toBe(IMAGE_ENGINE_NOT_CONFIGURED_MESSAGE);
    expect(final.note).toMatch(/IMAGE_ENGINE=a1111.*IMAGE_API_URL/);
    expect(await client.settled(request)).toBe("failed");

    const refused = await h
      .client("none-intake", h.intake({ engineConfigured: false }))
      .submit({ prompt: "anything" })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(InputRejectedError);
    expect((refused as InputRejectedError).code).toBe("IMAGE_ENGINE_NOT_CONFIGURED");
    expect((refused as InputRejectedError).userMessage).toBe(IMAGE_ENGINE_NOT_CONFIGURED_MESSAGE);
    expect(await h.redis.zcard(h.imageKeys.inbox("local:none-intake"))).toBe(0);
  });

  it("an unexpected engine error ends with a note too", async () => {
    const broken: ImageEngine = {
      kind: "a1111",
      capabilities: { previews: true, interrupt: true },
      generate: async () => {
        throw new TypeError("a bug in an engine");
      },
      interrupt: async () => false,
      readiness: async () => ({ ready: true, detail: "" }),
      close: async () => {},
    };
    await worker(broken);
    const client = h.client("bug");
    const request = await client.submit({ prompt: "a bug" });
    expect((await collect(client, request).done).note).toBe(IMAGINE_TEXT.somethingWrong);
    expect(await client.settled(request)).toBe("failed");
  });
});
