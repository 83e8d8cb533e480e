/**
 * Readiness of the openai engine: a server that is not up yet (one log line per retry window, no
 * stack traces; ready once it appears), one that is loading (503 on its model list), an unknown
 * OPENAI_MODEL (a clear error naming it and listing what the server has).
 */
import { afterEach, describe, expect, it } from "vitest";
import { EngineError } from "../../../../src/errors.ts";
import { OpenAIEngine } from "../../../../workers/engine/openai/OpenAIEngine.ts";
import { OpenAISim } from "../../../sim/openai/OpenAISim.ts";
import { captureLogger, startTestbed, type Testbed, turn } from "./engineTestbed.ts";

let bed: Testbed | undefined;
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  await bed?.stop();
  bed = undefined;
  for (const c of cleanup.splice(0)) await c();
});

describe("openai engine readiness", () => {
  it("unreachable at start: not ready and says why, one log line for the retry window, ready when the server appears", async () => {
    const port = await OpenAISim.freePort();
    const logs = captureLogger();
    const engine = OpenAIEngine.start({
      baseURL: `http://127.0.0.1:${port}/v1`,
      timeoutMs: 2000,
      slots: 2,
      logger: logs.logger,
      watch: { minDelayMs: 10, maxDelayMs: 20, logEveryMs: 60_000 },
    });
    cleanup.push(() => engine.close());
    expect(engine.readiness()).toBeDefined();
    expect(engine.info.contextSize).toBe(0);
    // Let it fail a good number of times.
    await new Promise((r) => setTimeout(r, 400));
    const reason = engine.readiness()!;
    expect(reason).toContain(`127.0.0.1:${port}/v1`);
    expect(reason).toContain("ECONNREFUSED");
    const warnings = logs.lines().filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toContain("ECONNREFUSED");
    expect(JSON.stringify(warnings[0])).not.toContain("stack");
    // A job arriving now is retried later, not failed for good.
    const early = await engine.generate(turn([], "Hi")).catch((e: unknown) => e);
    expect(early).toBeInstanceOf(EngineError);
    expect((early as EngineError).code).toBe("ENGINE_UNAVAILABLE");
    expect((early as EngineError).retryable).toBe(true);

    const sim = await OpenAISim.start({ port });
    cleanup.push(() => sim.stop());
    await engine.whenReady();
    expect(engine.readiness()).toBeUndefined();
    expect(engine.info.contextSize).toBe(2048);
    const back = logs.lines().find((l) => l.msg === "model server reachable again");
    expect(back?.attempts).toBeGreaterThan(3);
    expect(logs.lines().filter((l) => l.level === 40)).toHaveLength(1);
    expect((await engine.generate(turn([], "Hi"))).text).toBe("Hello from the sim.");
  });

  it("a server still loading (503 on /v1/models) is not ready until it answers", async () => {
    const sim = await OpenAISim.start();
    cleanup.push(() => sim.stop());
    sim.failNext({ kind: "status", status: 503, message: "Loading model", type: "unavailable_error" }, { path: /\/models$/, times: 4 });
    const logs = captureLogger();
    const engine = OpenAIEngine.start({
      baseURL: sim.baseURL,
      timeoutMs: 2000,
      slots: 2,
      logger: logs.logger,
      watch: { minDelayMs: 10, maxDelayMs: 20 },
    });
    cleanup.push(() => engine.close());
    const readiness: Array<string | undefined> = [engine.readiness()];
    await engine.whenReady();
    readiness.push(engine.readiness());
    expect(readiness[1]).toBeUndefined();
    expect(sim.requests.filter((r) => r.path === "/v1/models")).toHaveLength(5);
    const warn = logs.lines().find((l) => l.level === 40)!;
    expect(warn.msg).toContain("Loading model");
  });

  it("an unknown OPENAI_MODEL: a clear error naming it and listing what the server has", async () => {
    bed = await startTestbed({ models: ["qwen2-0_5b", "llama3-8b"] }, { model: "qwen3-4b" }, { waitReady: false });
    const err = (await bed.engine.whenReady().catch((e: unknown) => e)) as EngineError;
    expect(err).toBeInstanceOf(EngineError);
    expect(err.code).toBe("ENGINE_MODEL_NOT_FOUND");
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('OPENAI_MODEL "qwen3-4b"');
    expect(err.message).toContain("qwen2-0_5b, llama3-8b");
    expect(bed.engine.readiness()).toBe(err.message);
    const errors = bed.logs.lines().filter((l) => l.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.msg).toBe(err.message);
    await expect(bed.engine.generate(turn([], "Hi"))).rejects.toBe(err);
    // Probing stopped: no more model-list requests after the answer.
    const asked = bed.sim.requests.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(bed.sim.requests.length).toBe(asked);
  });

  it("a configured model is found by name (or its Ollama-style :latest tag); unset, the first listed is used", async () => {
    bed = await startTestbed({ shape: "none", models: ["qwen2:latest", "llama3:8b"] }, { model: "qwen2" });
    await bed.engine.generate(turn([], "Hi"));
    expect(bed.sim.chats[0]!.body.model).toBe("qwen2");
    await bed.stop();
    bed = await startTestbed({ models: ["first", "second"] });
    expect(bed.engine.info.model).toBe("first");
    await bed.engine.generate(turn([], "Hi"));
    expect(bed.sim.chats[0]!.body.model).toBe("first");
  });

  it("warns when the server runs fewer parallel slots than the worker keeps streams open", async () => {
    bed = await startTestbed({ totalSlots: 1 }, { slots: 4 });
    const warn = bed.logs.lines().find((l) => l.level === 40 && String(l.msg).includes("WORKER_CONCURRENCY"));
    expect(warn).toMatchObject({ serverSlots: 1, workerConcurrency: 4 });
  });
});
