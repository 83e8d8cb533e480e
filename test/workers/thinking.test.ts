/**
 * A reasoning model (Qwen3's template, `<think>…</think>`) behind the whole worker: the thought is
 * never streamed into the reply, never in the final text, and never stored in the conversation's
 * memory — only the answer is. The tiny random-weight model is made to think with the runner's
 * test-only scripted reply.
 */
import type { Token } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/logger.ts";
import { ConversationMemory } from "../../src/memory/ConversationMemory.ts";
import type { ReplyUpdate } from "../../src/stream/RedisStreamSink.ts";
import { loadModel } from "../../workers/inference/loadModel.ts";
import { ModelRunner } from "../../workers/inference/ModelRunner.ts";
import { Harness, testConfig } from "../helpers/harness.ts";
import { tinyTemplateModelPath } from "../helpers/tinyModel.ts";

const scripts = new Map<string, Token[]>();
let runner: ModelRunner;
let h: Harness;

beforeAll(async () => {
  const config = await testConfig({ MODEL: await tinyTemplateModelPath("qwen3"), MAX_NEW_TOKENS: "64" });
  const loaded = await loadModel({
    model: config.MODEL,
    modelsDir: config.modelsDir,
    gpu: "false",
    threads: config.THREADS,
    contextSize: config.CONTEXT_SIZE,
    sequences: config.WORKER_CONCURRENCY,
    logger: createLogger({ level: "silent" }),
  });
  runner = new ModelRunner(loaded, { stateCache: false, scriptedReply: (key) => scripts.get(key) });
  h = new Harness(config, runner);
  await h.startWorker();
}, 120_000);

afterAll(async () => {
  await h?.close();
  await runner?.close();
});

describe("a thinking model behind the worker", () => {
  it("streams and stores the answer only", async () => {
    const client = h.client("thinker");
    const model = runner.loaded.model;
    const answer = "Paris is the capital of France.";
    scripts.set(client.conversationKey, [
      ...model.tokenize(`<think>\nThe user asks about France. Hidden reasoning: recall capitals.\n</think>\n\n${answer}`, true),
      model.tokens.eos!,
    ]);
    const updates: ReplyUpdate[] = [];
    const final = await client.ask("What is the capital of France?", (u) => updates.push(u));
    expect(final.final).toBe(true);
    expect(final.text).toBe(answer);
    expect(updates.length).toBeGreaterThan(0);
    for (const u of updates) {
      expect(u.text).not.toMatch(/Hidden|reasoning|think/);
      expect(answer.startsWith(u.text)).toBe(true);
    }
    const turns = await new ConversationMemory(h.redis, h.keys, 3600).turns(client.conversationKey);
    expect(turns.map((t) => [t.role, t.text])).toEqual([
      ["user", "What is the capital of France?"],
      ["assistant", answer],
    ]);
    expect(turns[1]!.tokens).toBe(runner.turnTokens({ text: answer }));
  });
});
