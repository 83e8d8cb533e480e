/**
 * The AUTOMATIC1111-compatible engine against the loopback stand-in: what it sends, previews that
 * sharpen while it works, Stop (interrupt, partial image), timeouts, a progress endpoint that
 * fails, and every way the server can fail.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { A1111Engine, type A1111EngineOptions, txt2imgBody } from "../../../workers/images/A1111Engine.ts";
import { MAX_PROGRESS_FAILURES } from "../../../workers/images/A1111ProgressPoller.ts";
import { ImageEngineSimulator } from "../../sim/images/ImageEngineSimulator.ts";
import { renderClean } from "../../sim/images/pattern.ts";
import { decodePng, meanAbsDiff } from "../../sim/images/png.ts";
import { engineError, progressLog, until } from "./engineTestKit.ts";

let sim: ImageEngineSimulator;
const engines: A1111Engine[] = [];

function engine(opts: Partial<A1111EngineOptions> = {}): A1111Engine {
  const e = new A1111Engine({ baseUrl: sim.url, timeoutMs: 30_000, previewIntervalMs: 15, interruptGraceMs: 2000, ...opts });
  engines.push(e);
  return e;
}

const REQUEST = { prompt: "a lighthouse at dawn", negativePrompt: "blurry", width: 64, height: 48, steps: 12, seed: 4242 };

beforeAll(async () => {
  sim = await ImageEngineSimulator.start();
});
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
  sim.set({
    stepDelayMs: 5,
    stallAtStep: undefined,
    progressFailAfter: undefined,
    progressFault: undefined,
    previewEvery: 1,
    authorization: undefined,
  });
  sim.requests.length = 0;
  sim.generations.length = 0;
});
afterAll(async () => {
  await sim.stop();
});

describe("A1111Engine: a generation", () => {
  it("sends prompt, negative prompt, size, steps, seed and sampler, and returns the PNG with the engine's seed and steps", async () => {
    const result = await engine({ sampler: "DPM++ 2M" }).generate(REQUEST);
    const sent = sim.requestsTo("txt2img")[0]!.body as Record<string, unknown>;
    expect(sent).toMatchObject({
      prompt: REQUEST.prompt,
      negative_prompt: "blurry",
      width: 64,
      height: 48,
      steps: 12,
      seed: 4242,
      sampler_name: "DPM++ 2M",
      batch_size: 1,
      n_iter: 1,
      send_images: true,
      save_images: false,
    });
    expect(result).toMatchObject({ mime: "image/png", seed: 4242, steps: 12, width: 64, height: 48 });
    expect(result.info?.sampler_name).toBe("DPM++ 2M");
    expect(result.elapsedMs).toBeGreaterThanOrEqual(0);
    const png = decodePng(result.image);
    expect(meanAbsDiff(png, renderClean(4242, 64, 48))).toBe(0);
  });

  it("a request's own sampler wins; none configured or given sends none (the engine's default)", () => {
    expect(txt2imgBody({ ...REQUEST, sampler: "Euler a" }, "DDIM").sampler_name).toBe("Euler a");
    expect("sampler_name" in txt2imgBody(REQUEST)).toBe(false);
  });

  it("reports the seed the engine chose when it differs (AUTOMATIC1111's info)", async () => {
    // The stand-in, like the web UI, draws a seed for -1.
    const result = await engine().generate({ ...REQUEST, seed: -1 });
    expect(result.seed).toBe(sim.generations[0]!.seed);
    expect(result.seed).toBeGreaterThanOrEqual(0);
  });

  it("streams progress with previews that sharpen step by step, and nothing after it settles", async () => {
    sim.set({ stepDelayMs: 40 });
    const { reports, onProgress } = progressLog();
    const result = await engine().generate({ ...REQUEST, onProgress });
    const count = reports.length;
    await new Promise((r) => setTimeout(r, 60));
    expect(reports.length).toBe(count);

    const previews = reports.filter((r) => r.preview);
    expect(previews.length).toBeGreaterThanOrEqual(3);
    for (const r of reports) {
      expect(r.steps).toBe(12);
      expect(r.step).toBeGreaterThanOrEqual(0);
      expect(r.step).toBeLessThanOrEqual(12);
      expect(r.fraction).toBeGreaterThanOrEqual(0);
      expect(r.fraction).toBeLessThanOrEqual(1);
    }
    for (let i = 1; i < reports.length; i++) expect(reports[i]!.step).toBeGreaterThanOrEqual(reports[i - 1]!.step);
    // Each preview is new bytes, a PNG of the right size, and closer to the final image than the one before.
    const final = decodePng(result.image);
    const distances = previews.map((p) => {
      expect(p.previewMime).toBe("image/png");
      const img = decodePng(p.preview!);
      expect([img.width, img.height]).toEqual([64, 48]);
      return meanAbsDiff(img, final);
    });
    for (let i = 1; i < previews.length; i++) {
      expect(previews[i]!.preview!.equals(previews[i - 1]!.preview!)).toBe(false);
      expect(distances[i]!).toBeLessThan(distances[i - 1]!);
    }
    expect(reports.some((r) => r.etaMs !== undefined)).toBe(true);
  });

  it("previews: false polls steps only (skip_current_image=true) and delivers no preview bytes", async () => {
    sim.set({ stepDelayMs: 30 });
    const { reports, onProgress } = progressLog();
    await engine().generate({ ...REQUEST, onProgress, previews: false });
    expect(reports.length).toBeGreaterThan(0);
    expect(reports.every((r) => r.preview === undefined)).toBe(true);
    const polls = sim.requestsTo("progress");
    expect(polls.length).toBeGreaterThan(0);
    expect(polls.every((p) => p.url.endsWith("skip_current_image=true"))).toBe(true);
  });

  it("a progress callback that throws does not break the generation", async () => {
    sim.set({ stepDelayMs: 20 });
    let calls = 0;
    const result = await engine().generate({
      ...REQUEST,
      onProgress: () => {
        calls++;
        throw new Error("the caller's bug");
      },
    });
    expect(calls).toBeGreaterThan(0);
    expect(result.mime).toBe("image/png");
  });

  it("sends user:password keys as HTTP Basic (--api-auth) and other keys as Bearer", async () => {
    sim.set({ authorization: [`Basic ${Buffer.from("bot:s3cret").toString("base64")}`] });
    await engine({ apiKey: "bot:s3cret" }).generate(REQUEST);
    expect(sim.requestsTo("txt2img")[0]!.headers.authorization).toBe(`Basic ${Buffer.from("bot:s3cret").toString("base64")}`);
    sim.set({ authorization: ["Bearer tok-123"] });
    await engine({ apiKey: "tok-123" }).generate(REQUEST);
    expect(sim.requestsTo("txt2img")[1]!.headers.authorization).toBe("Bearer tok-123");
  });

  it("takes credentials written into the URL as the key (fetch refuses such URLs)", async () => {
    sim.set({ authorization: [`Basic ${Buffer.from("bot:p@ss").toString("base64")}`] });
    const e = engine({ baseUrl: sim.url.replace("http://", "http://bot:p%40ss@") });
    await e.generate(REQUEST);
    expect((await e.readiness()).detail).toBe(`AUTOMATIC1111 API at ${sim.url}: 1 model`);
  });

  it("accepts a base URL given with /sdapi/v1 and a trailing slash", async () => {
    await engine({ baseUrl: `${sim.url}/sdapi/v1/` }).generate(REQUEST);
    expect(sim.requestsTo("txt2img")).toHaveLength(1);
  });
});

describe("A1111Engine: Stop, timeouts and shutdown", () => {
  it("Stop interrupts the engine and rejects IMAGE_INTERRUPTED with the partial image it sends back", async () => {
    sim.set({ stepDelayMs: 25 });
    const stop = new AbortController();
    const { reports, onProgress } = progressLog();
    const pending = engine().generate({ ...REQUEST, steps: 40, signal: stop.signal, onProgress });
    await until(() => (sim.running?.step ?? 0) >= 3, "step 3");
    stop.abort();
    const err = await engineError(pending);
    expect(err.code).toBe("IMAGE_INTERRUPTED");
    expect(err.retryable).toBe(false);
    expect(sim.interrupts).toBe(1);
    expect(sim.generations[0]!.status).toBe("interrupted");
    const partial = decodePng(err.partial!.image);
    expect(err.partial!.mime).toBe("image/png");
    // Half-denoised: not the clean final image.
    expect(meanAbsDiff(partial, renderClean(REQUEST.seed, 64, 48))).toBeGreaterThan(5);
    expect(reports.length).toBeGreaterThan(0);
  });

  it("a signal already aborted rejects at once without a request", async () => {
    const err = await engineError(engine().generate({ ...REQUEST, signal: AbortSignal.abort() }));
    expect(err.code).toBe("IMAGE_INTERRUPTED");
    await new Promise((r) => setTimeout(r, 50));
    // (A progress poll the previous test aborted in flight may still land: only its own requests count.)
    expect(sim.requests.filter((r) => r.route !== "progress").map((r) => r.route)).toEqual([]);
  });

  it("a generation that never finishes times out: the engine is interrupted, the partial image handed back", async () => {
    sim.set({ stallAtStep: 4, stepDelayMs: 5 });
    const err = await engineError(engine({ timeoutMs: 400 }).generate(REQUEST));
    expect(err.code).toBe("IMAGE_TIMEOUT");
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/no image after/);
    expect(sim.interrupts).toBe(1);
    expect(sim.generations[0]).toMatchObject({ status: "interrupted", step: 4 });
    expect(decodePng(err.partial!.image).width).toBe(64);
  });

  it("an engine that hangs even through the interrupt is given up after the grace period", async () => {
    sim.failNext("txt2img", { hang: true });
    const err = await engineError(engine({ timeoutMs: 300, interruptGraceMs: 200 }).generate({ ...REQUEST, timeoutMs: 250 }));
    expect(err.code).toBe("IMAGE_TIMEOUT");
    expect(err.partial).toBeUndefined();
    expect(sim.interrupts).toBe(1);
  });

  it("close() stops running generations (IMAGE_INTERRUPTED, retryable) and refuses new ones", async () => {
    sim.set({ stepDelayMs: 20 });
    const e = engine();
    const pending = e.generate({ ...REQUEST, steps: 50 });
    await until(() => (sim.running?.step ?? 0) >= 2, "step 2");
    await e.close();
    const err = await engineError(pending);
    expect(err.code).toBe("IMAGE_INTERRUPTED");
    expect(err.retryable).toBe(true);
    expect(sim.interrupts).toBe(1);
    const after = await engineError(e.generate(REQUEST));
    expect(after.code).toBe("IMAGE_ENGINE_UNAVAILABLE");
  });

  it("interrupt() asks the engine to stop whatever runs", async () => {
    expect(await engine().interrupt()).toBe(true);
    expect(sim.interrupts).toBe(1);
  });
});

describe("A1111Engine: a progress endpoint that fails", () => {
  it("starts failing mid-way: the generation completes, previews stop, polling gives up", async () => {
    sim.set({ stepDelayMs: 40, progressFailAfter: 3 });
    const { reports, onProgress } = progressLog();
    const result = await engine().generate({ ...REQUEST, steps: 20, onProgress });
    expect(result.mime).toBe("image/png");
    expect(reports.length).toBeLessThanOrEqual(3);
    // 3 answered polls, then MAX_PROGRESS_FAILURES failed ones, then no more.
    expect(sim.requestsTo("progress")).toHaveLength(3 + MAX_PROGRESS_FAILURES);
  });

  it("drops connections: the same", async () => {
    sim.set({ stepDelayMs: 30, progressFailAfter: 1, progressFault: { reset: true } });
    const result = await engine().generate({ ...REQUEST, steps: 20 });
    expect(decodePng(result.image).width).toBe(64);
    expect(sim.requestsTo("progress")).toHaveLength(1 + MAX_PROGRESS_FAILURES);
  });

  it("is missing (404, as on stable-diffusion.cpp's sdapi): one poll, no progress, the image arrives", async () => {
    sim.set({ stepDelayMs: 30, progressFailAfter: 0, progressFault: { status: 404, body: { detail: "Not Found" } } });
    const { reports, onProgress } = progressLog();
    const result = await engine().generate({ ...REQUEST, onProgress });
    expect(result.mime).toBe("image/png");
    expect(reports).toEqual([]);
    expect(sim.requestsTo("progress")).toHaveLength(1);
  });
});

describe("A1111Engine: an engine that is down or answers errors", () => {
  it("500 with the web UI's error body: IMAGE_ENGINE_FAILED with its detail, not retryable", async () => {
    sim.failNext("txt2img", { status: 500, body: { error: "OutOfMemoryError", detail: "", body: "", errors: "CUDA out of memory" } });
    const err = await engineError(engine().generate(REQUEST));
    expect(err).toMatchObject({ code: "IMAGE_ENGINE_FAILED", status: 500, retryable: false });
    expect(err.message).toContain("CUDA out of memory");
  });

  it("404 for an unknown sampler: IMAGE_ENGINE_FAILED naming it", async () => {
    sim.failNext("txt2img", { status: 404, body: { error: "HTTPException", detail: "Sampler not found", body: "", errors: "" } });
    const err = await engineError(engine({ sampler: "Nope" }).generate(REQUEST));
    expect(err).toMatchObject({ code: "IMAGE_ENGINE_FAILED", status: 404 });
    expect(err.message).toContain("Sampler not found");
  });

  it("503 while loading: IMAGE_ENGINE_UNAVAILABLE, retryable", async () => {
    sim.failNext("txt2img", { status: 503, body: { detail: "Model is loading" } });
    const err = await engineError(engine().generate(REQUEST));
    expect(err).toMatchObject({ code: "IMAGE_ENGINE_UNAVAILABLE", status: 503, retryable: true });
    expect(err.message).toContain("Model is loading");
  });

  it("a body that is not JSON: IMAGE_ENGINE_FAILED", async () => {
    sim.failNext("txt2img", { badJson: true });
    const err = await engineError(engine().generate(REQUEST));
    expect(err.code).toBe("IMAGE_ENGINE_FAILED");
    expect(err.message).toMatch(/not JSON/);
  });

  it("an answer without an image: IMAGE_ENGINE_FAILED", async () => {
    sim.failNext("txt2img", { status: 200, body: { images: [], parameters: {}, info: "{}" } });
    const err = await engineError(engine().generate(REQUEST));
    expect(err.code).toBe("IMAGE_ENGINE_FAILED");
    expect(err.message).toMatch(/without an image/);
  });

  it("an 'image' that is not one: IMAGE_ENGINE_FAILED", async () => {
    sim.failNext("txt2img", { status: 200, body: { images: [Buffer.from("hello").toString("base64")], parameters: {}, info: "{}" } });
    const err = await engineError(engine().generate(REQUEST));
    expect(err.message).toMatch(/not an image/);
  });

  it("a dropped connection: IMAGE_ENGINE_UNAVAILABLE, retryable", async () => {
    sim.failNext("txt2img", { reset: true });
    const err = await engineError(engine().generate(REQUEST));
    expect(err).toMatchObject({ code: "IMAGE_ENGINE_UNAVAILABLE", retryable: true });
  });

  it("wrong credentials: IMAGE_ENGINE_FAILED pointing at IMAGE_API_KEY", async () => {
    sim.set({ authorization: ["Basic nobody"] });
    const err = await engineError(engine({ apiKey: "bot:wrong" }).generate(REQUEST));
    expect(err).toMatchObject({ code: "IMAGE_ENGINE_FAILED", status: 401, retryable: false });
    expect(err.message).toContain("IMAGE_API_KEY");
  });

  it("nothing listening: IMAGE_ENGINE_UNAVAILABLE naming the address, and readiness says not ready", async () => {
    const gone = await ImageEngineSimulator.start();
    await gone.stop();
    const e = engine({ baseUrl: gone.url });
    const err = await engineError(e.generate(REQUEST));
    expect(err).toMatchObject({ code: "IMAGE_ENGINE_UNAVAILABLE", retryable: true });
    expect(err.message).toContain(gone.url);
    expect(err.message).toContain("ECONNREFUSED");
    const readiness = await e.readiness();
    expect(readiness.ready).toBe(false);
    expect(readiness.detail).toContain("ECONNREFUSED");
  });

  it("readiness: ready with the models the engine lists", async () => {
    expect(await engine().readiness()).toEqual({ ready: true, detail: `AUTOMATIC1111 API at ${sim.url}: 1 model` });
  });
});
