/** IMAGE_ENGINE picks the engine; `none` refuses with a message that says how to set one up. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.ts";
import { A1111Engine } from "../../../workers/images/A1111Engine.ts";
import { createImageEngine, DisabledImageEngine } from "../../../workers/images/createImageEngine.ts";
import { OpenAIImageEngine } from "../../../workers/images/OpenAIImageEngine.ts";
import { ImageEngineSimulator } from "../../sim/images/ImageEngineSimulator.ts";
import { engineError } from "./engineTestKit.ts";

let sim: ImageEngineSimulator;
beforeAll(async () => {
  sim = await ImageEngineSimulator.start();
});
afterAll(async () => {
  await sim.stop();
});

describe("createImageEngine", () => {
  it("IMAGE_ENGINE=none: refuses IMAGE_ENGINE_NOT_CONFIGURED, saying which settings to set and where to read", async () => {
    const engine = createImageEngine(loadConfig({}));
    expect(engine).toBeInstanceOf(DisabledImageEngine);
    expect(engine.kind).toBe("none");
    const err = await engineError(engine.generate({ prompt: "x", width: 512, height: 512, steps: 20, seed: 1 }));
    expect(err).toMatchObject({ code: "IMAGE_ENGINE_NOT_CONFIGURED", retryable: false });
    for (const words of ["IMAGE_ENGINE=a1111", "IMAGE_ENGINE=openai", "IMAGE_API_URL", "docs/images.md"])
      expect(err.message).toContain(words);
    expect(await engine.readiness()).toEqual({ ready: false, detail: "no image engine configured (IMAGE_ENGINE=none)" });
    expect(await engine.interrupt()).toBe(false);
    await engine.close();
  });

  it("IMAGE_ENGINE=a1111 drives the configured server with the configured sampler and timeout", async () => {
    const engine = createImageEngine(
      loadConfig({ IMAGE_ENGINE: "a1111", IMAGE_API_URL: sim.url, IMAGE_SAMPLER: "Euler a", IMAGE_PREVIEW_INTERVAL_MS: "100" }),
    );
    expect(engine).toBeInstanceOf(A1111Engine);
    expect(engine.capabilities).toEqual({ previews: true, interrupt: true });
    await engine.generate({ prompt: "x", width: 64, height: 64, steps: 3, seed: 1 });
    expect(sim.requestsTo("txt2img").at(-1)!.body).toMatchObject({ sampler_name: "Euler a", seed: 1 });
    await engine.close();
  });

  it("IMAGE_ENGINE=openai uses the model and dialect", async () => {
    const engine = createImageEngine(
      loadConfig({ IMAGE_ENGINE: "openai", IMAGE_API_URL: sim.url, IMAGE_MODEL: "sdxl", IMAGE_OPENAI_DIALECT: "localai" }),
    );
    expect(engine).toBeInstanceOf(OpenAIImageEngine);
    const result = await engine.generate({ prompt: "x", width: 64, height: 64, steps: 3, seed: 8 });
    expect(result.seed).toBe(8);
    expect(sim.requestsTo("generations").at(-1)!.body).toMatchObject({ model: "sdxl", step: 3, seed: 8 });
    await engine.close();
  });
});
