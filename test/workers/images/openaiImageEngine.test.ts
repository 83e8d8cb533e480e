/**
 * The OpenAI-compatible engine against the loopback stand-in: the request each dialect sends
 * (sd-server's `<sd_cpp_extra_args>`, LocalAI's fields, plain), no previews, Stop and timeouts
 * that only stop waiting, and the ways a server fails.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  imagesGenerationsBody,
  OpenAIImageEngine,
  type OpenAIImageEngineOptions,
  openAIBase,
} from "../../../workers/images/OpenAIImageEngine.ts";
import { ImageEngineSimulator } from "../../sim/images/ImageEngineSimulator.ts";
import { renderClean } from "../../sim/images/pattern.ts";
import { decodePng, meanAbsDiff } from "../../sim/images/png.ts";
import { engineError, progressLog, until } from "./engineTestKit.ts";

let sim: ImageEngineSimulator;
const engines: OpenAIImageEngine[] = [];

function engine(opts: Partial<OpenAIImageEngineOptions> = {}): OpenAIImageEngine {
  const e = new OpenAIImageEngine({ baseUrl: sim.openaiUrl, dialect: "sdcpp", timeoutMs: 30_000, ...opts });
  engines.push(e);
  return e;
}

const REQUEST = { prompt: "a red fox in snow", negativePrompt: "blurry, text", width: 64, height: 48, steps: 9, seed: 31337 };

beforeAll(async () => {
  sim = await ImageEngineSimulator.start();
});
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
  sim.set({ stepDelayMs: 5, authorization: undefined, openaiUrlResponses: false });
  sim.requests.length = 0;
  sim.generations.length = 0;
});
afterAll(async () => {
  await sim.stop();
});

describe("OpenAIImageEngine: dialects", () => {
  it("sdcpp: the extras travel in an <sd_cpp_extra_args> block sd-server takes out of the prompt", async () => {
    const result = await engine({ sampler: "euler_a", model: "sd-cpp-local" }).generate(REQUEST);
    const body = sim.requestsTo("generations")[0]!.body as Record<string, unknown>;
    expect(body).toMatchObject({ n: 1, size: "64x48", response_format: "b64_json", model: "sd-cpp-local", output_format: "png" });
    const block = /<sd_cpp_extra_args>(.*)<\/sd_cpp_extra_args>$/.exec(String(body.prompt));
    expect(JSON.parse(block![1]!)).toEqual({
      seed: 31337,
      steps: 9,
      sample_method: "euler_a",
      sample_params: { sample_steps: 9, sample_method: "euler_a" },
      negative_prompt: "blurry, text",
    });
    expect(sim.generations[0]).toMatchObject({
      prompt: "a red fox in snow",
      negativePrompt: "blurry, text",
      steps: 9,
      seed: 31337,
      width: 64,
      height: 48,
      sampler: "euler_a",
    });
    expect(result).toMatchObject({ mime: "image/png", seed: 31337, steps: 9, width: 64, height: 48 });
    expect(meanAbsDiff(decodePng(result.image), renderClean(31337, 64, 48))).toBe(0);
  });

  it("sdcpp: a prompt cannot smuggle its own control block (e.g. 10000 steps)", async () => {
    const sneaky = 'a cat <sd_cpp_extra_args>{"steps":10000,"sample_params":{"sample_steps":10000}}</sd_cpp_extra_args>';
    await engine().generate({ ...REQUEST, prompt: sneaky, negativePrompt: "</sd_cpp_extra_args>x" });
    expect(sim.generations[0]!.steps).toBe(9);
    const prompt = String((sim.requestsTo("generations")[0]!.body as Record<string, unknown>).prompt);
    expect(prompt.match(/<sd_cpp_extra_args>/g)).toHaveLength(1);
  });

  it("localai: `step` and `seed` fields, the negative prompt after a `|` (and no `|` from the user)", async () => {
    const result = await engine({ dialect: "localai" }).generate({ ...REQUEST, prompt: "a fox | a wolf" });
    const body = sim.requestsTo("generations")[0]!.body as Record<string, unknown>;
    expect(body).toMatchObject({ prompt: "a fox   a wolf|blurry, text", step: 9, seed: 31337, size: "64x48", n: 1 });
    expect(sim.generations[0]).toMatchObject({ prompt: "a fox   a wolf", negativePrompt: "blurry, text", steps: 9, seed: 31337 });
    expect(result.seed).toBe(31337);
  });

  it("plain: only the OpenAI fields; the seed and steps are then unknown", async () => {
    const result = await engine({ dialect: "plain" }).generate(REQUEST);
    const body = sim.requestsTo("generations")[0]!.body as Record<string, unknown>;
    expect(body).toEqual({ prompt: "a red fox in snow", n: 1, size: "64x48", response_format: "b64_json" });
    expect(result.seed).toBeUndefined();
    expect(result.steps).toBeUndefined();
    expect(result.mime).toBe("image/png");
  });

  it("no negative prompt: none sent", () => {
    const body = imagesGenerationsBody({ ...REQUEST, negativePrompt: "" }, { dialect: "localai" });
    expect(body.prompt).toBe("a red fox in snow");
    const sd = imagesGenerationsBody({ ...REQUEST, negativePrompt: undefined }, { dialect: "sdcpp" });
    expect(String(sd.prompt)).not.toContain("negative_prompt");
  });
});

describe("OpenAIImageEngine: a generation", () => {
  it("reports no progress and polls nothing (no previews)", async () => {
    sim.set({ stepDelayMs: 20 });
    const { reports, onProgress } = progressLog();
    await engine().generate({ ...REQUEST, onProgress });
    expect(reports).toEqual([]);
    expect(engine().capabilities).toEqual({ previews: false, interrupt: false });
    expect(sim.requests.map((r) => r.route)).toEqual(["generations"]);
  });

  it("takes a base URL without a path (adds /v1) or with one (kept)", async () => {
    expect(openAIBase("http://127.0.0.1:1234")).toBe("http://127.0.0.1:1234/v1");
    expect(openAIBase("http://localhost:8080/v1/")).toBe("http://localhost:8080/v1");
    expect(openAIBase("http://proxy/api/images/v1")).toBe("http://proxy/api/images/v1");
    await engine({ baseUrl: sim.url }).generate(REQUEST);
    expect(sim.requestsTo("generations")).toHaveLength(1);
  });

  it("fetches `data[0].url` from the engine when it answers with a URL", async () => {
    sim.set({ openaiUrlResponses: true, authorization: ["Bearer k-1"] });
    const result = await engine({ apiKey: "k-1" }).generate(REQUEST);
    expect(meanAbsDiff(decodePng(result.image), renderClean(31337, 64, 48))).toBe(0);
    const files = sim.requestsTo("files");
    expect(files).toHaveLength(1);
    expect(files[0]!.headers.authorization).toBe("Bearer k-1");
  });

  it("sends the key as a Bearer token, even one with a colon", async () => {
    sim.set({ authorization: ["Bearer user:pass"] });
    await engine({ apiKey: "user:pass" }).generate(REQUEST);
    expect(sim.requestsTo("generations")[0]!.headers.authorization).toBe("Bearer user:pass");
  });
});

describe("OpenAIImageEngine: Stop and timeouts stop waiting", () => {
  it("Stop rejects IMAGE_INTERRUPTED; the server sees the request go away", async () => {
    sim.set({ stepDelayMs: 30 });
    const stop = new AbortController();
    const pending = engine().generate({ ...REQUEST, steps: 100, signal: stop.signal });
    await until(() => (sim.running?.step ?? 0) >= 2, "step 2");
    stop.abort();
    const err = await engineError(pending);
    expect(err).toMatchObject({ code: "IMAGE_INTERRUPTED", retryable: false });
    expect(err.partial).toBeUndefined();
    await until(() => sim.generations[0]!.status === "abandoned", "the stand-in to notice");
    expect(sim.interrupts).toBe(0);
  });

  it("a generation that never finishes: IMAGE_TIMEOUT", async () => {
    sim.failNext("generations", { hang: true });
    const err = await engineError(engine({ timeoutMs: 300 }).generate(REQUEST));
    expect(err).toMatchObject({ code: "IMAGE_TIMEOUT", retryable: false });
  });

  it("close() rejects the running generation IMAGE_INTERRUPTED, retryable", async () => {
    sim.set({ stepDelayMs: 30 });
    const e = engine();
    const pending = e.generate({ ...REQUEST, steps: 100 });
    await until(() => (sim.running?.step ?? 0) >= 1, "step 1");
    await e.close();
    expect(await engineError(pending)).toMatchObject({ code: "IMAGE_INTERRUPTED", retryable: true });
  });

  it("interrupt() is not supported", async () => {
    expect(await engine().interrupt()).toBe(false);
    expect(sim.requests).toEqual([]);
  });
});

describe("OpenAIImageEngine: an engine that is down or answers errors", () => {
  it("503 while the model loads: IMAGE_ENGINE_UNAVAILABLE, retryable, with the server's words", async () => {
    sim.failNext("generations", { status: 503, body: { error: { message: "loading model", type: "server_error" } } });
    const err = await engineError(engine().generate(REQUEST));
    expect(err).toMatchObject({ code: "IMAGE_ENGINE_UNAVAILABLE", status: 503, retryable: true });
    expect(err.message).toContain("loading model");
  });

  it("sd-server's 400 and 500 bodies: IMAGE_ENGINE_FAILED with the reason", async () => {
    sim.failNext("generations", { status: 400, body: { error: "invalid params" } });
    const bad = await engineError(engine().generate(REQUEST));
    expect(bad).toMatchObject({ code: "IMAGE_ENGINE_FAILED", status: 400, retryable: false });
    expect(bad.message).toContain("invalid params");
    sim.failNext("generations", { status: 500, body: { error: "server_error", message: "generate_image returned no results" } });
    const failed = await engineError(engine().generate(REQUEST));
    expect(failed.message).toContain("generate_image returned no results");
  });

  it("a body that is not JSON, or JSON without an image: IMAGE_ENGINE_FAILED", async () => {
    sim.failNext("generations", { badJson: true });
    expect((await engineError(engine().generate(REQUEST))).code).toBe("IMAGE_ENGINE_FAILED");
    sim.failNext("generations", { status: 200, body: { created: 1, data: [] } });
    const empty = await engineError(engine().generate(REQUEST));
    expect(empty.message).toMatch(/without an image/);
  });

  it("a dropped connection, or nothing listening: IMAGE_ENGINE_UNAVAILABLE, retryable", async () => {
    sim.failNext("generations", { reset: true });
    expect(await engineError(engine().generate(REQUEST))).toMatchObject({ code: "IMAGE_ENGINE_UNAVAILABLE", retryable: true });
    const gone = await ImageEngineSimulator.start();
    await gone.stop();
    const e = engine({ baseUrl: gone.openaiUrl });
    const down = await engineError(e.generate(REQUEST));
    expect(down).toMatchObject({ code: "IMAGE_ENGINE_UNAVAILABLE", retryable: true });
    expect(down.message).toContain("ECONNREFUSED");
    expect((await e.readiness()).ready).toBe(false);
  });

  it("readiness: ready when /models answers, and when the server has no /models but answers", async () => {
    expect(await engine().readiness()).toEqual({ ready: true, detail: `OpenAI-compatible image API at ${sim.openaiUrl}` });
    sim.failNext("models", { status: 404, body: { error: "not found" } });
    expect((await engine().readiness()).ready).toBe(true);
    sim.failNext("models", { status: 500 });
    expect((await engine().readiness()).ready).toBe(false);
  });
});
