/**
 * The local engine is the ModelRunner behind the Engine seam, nothing more: the same fitting and
 * counts, the text as it grows, and the runner's prefix reuse reported as cached prompt tokens.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatTurn } from "../../../src/types.ts";
import { LocalEngine } from "../../../workers/engine/local/LocalEngine.ts";
import { loadTinyRunner, testConfig } from "../../helpers/harness.ts";

let engine: LocalEngine;
beforeAll(async () => {
  engine = new LocalEngine(await loadTinyRunner(await testConfig()));
});
afterAll(async () => {
  await engine?.close();
});

const SYSTEM = "You are a helpful assistant.";

describe("LocalEngine", () => {
  it("is ready at once and describes the loaded model", async () => {
    await engine.whenReady();
    expect(engine.readiness()).toBeUndefined();
    expect(engine.kind).toBe("local");
    expect(engine.slots).toBe(2);
    expect(engine.info).toMatchObject({
      model: "qwen2-tiny-f32-s1.gguf",
      backend: "node-llama-cpp (cpu)",
      contextSize: 2048,
      tokenCounter: "model",
    });
  });

  it("fits and counts exactly as the runner does", async () => {
    const history: ChatTurn[] = Array.from({ length: 6 }, (_, i) => ({
      role: i % 2 ? "assistant" : "user",
      text: `turn ${i} text`,
      at: i,
    }));
    expect(await engine.fitHistory(SYSTEM, history, "Hello", 24)).toEqual(engine.runner.fitHistory(SYSTEM, history, "Hello", 24));
    expect(await engine.turnTokens("Some reply text")).toBe(engine.runner.turnTokens({ text: "Some reply text" }));
  });

  it("streams growing text and reports the sequence's reused prompt as cached on a follow-up", async () => {
    const seen: string[] = [];
    const params = { conversationKey: "local:engine", systemPrompt: SYSTEM, maxTokens: 8, temperature: 0, topK: 1 };
    const first = await engine.generate({ ...params, history: [], userText: "Hi there", onText: (t) => seen.push(t) });
    expect(first.generatedTokens).toBeGreaterThan(0);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.at(-1)).toBe(first.text);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.startsWith(seen[i - 1]!)).toBe(true);
    expect(first.waitedMs).toBe(0);
    const history: ChatTurn[] = [
      { role: "user", text: "Hi there", at: 1 },
      { role: "assistant", text: first.text, at: 2 },
    ];
    const second = await engine.generate({ ...params, history, userText: "And then?" });
    expect(second.cachedPromptTokens).toBe(second.reusedTokens);
    expect(second.cachedPromptTokens).toBeGreaterThan(first.promptTokens / 2);
    expect(second.evaluatedInputTokens).toBeLessThan(second.promptTokens);
  });
});
