/**
 * Throughput machinery, checked for correctness (never for speed): prefix reuse on a warm
 * sequence, concurrent conversations batched in one context, eviction to disk and restore — on
 * the tiny Qwen2 model through the real worker and Redis.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Token } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/logger.ts";
import { ConversationMemory } from "../../src/memory/ConversationMemory.ts";
import type { GenerationEvent } from "../../workers/ChatWorker.ts";
import { loadModel } from "../../workers/inference/loadModel.ts";
import { ModelRunner } from "../../workers/inference/ModelRunner.ts";
import { reuseKnownTokens } from "../../workers/inference/reuseKnownTokens.ts";
import { StepBarrier } from "../../workers/inference/StepBarrier.ts";
import { Harness, testConfig } from "../helpers/harness.ts";

const SEQUENCES = 3;

let runner: ModelRunner;
let h: Harness;
let stateDir: string;
const events: GenerationEvent[] = [];

beforeAll(async () => {
  const config = await testConfig({ WORKER_CONCURRENCY: String(SEQUENCES), MAX_NEW_TOKENS: "12", MAX_INPUT_CHARS: "100000" });
  stateDir = await fs.mkdtemp(path.join(os.tmpdir(), "qwenbot-throughput-"));
  const loaded = await loadModel({
    model: config.MODEL,
    modelsDir: config.modelsDir,
    gpu: "false",
    threads: config.THREADS,
    contextSize: config.CONTEXT_SIZE,
    sequences: SEQUENCES,
    logger: createLogger({ level: "silent" }),
  });
  runner = new ModelRunner(loaded, { stateCache: { dir: stateDir, minTokens: 32 } });
  h = new Harness(config, runner);
  const w = await h.startWorker();
  w.worker.on("generation", (e) => events.push(e));
});

afterAll(async () => {
  await h?.close();
  await runner?.close();
  if (stateDir) await fs.rm(stateDir, { recursive: true, force: true });
});

/** The generation event of the request last answered in `conversationKey`. */
async function lastEvent(conversationKey: string, after: number): Promise<GenerationEvent> {
  for (let i = 0; i < 200; i++) {
    const e = events.slice(after).findLast((x) => x.request.conversationKey === conversationKey);
    if (e) return e;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no generation event for ${conversationKey}`);
}

function text(tokens: readonly Token[]): string {
  return runner.loaded.model.detokenize(tokens, false);
}

function specialCount(s: string): number {
  return runner.loaded.model.tokenize(s, true).length;
}

/** Made-up text of about `words` words, marked with `tag` so a conversation's own words can be told apart. */
function filler(tag: string, words: number): string {
  const pool = ["river", "engine", "garden", "window", "market", "letter", "bridge", "station", "forest", "summer"];
  return Array.from({ length: words }, (_, i) => (i % 7 === 0 ? tag : pool[(i * 7 + tag.length) % pool.length])).join(" ");
}

describe("prefix reuse", () => {
  it("a follow-up on a warm sequence evaluates only the new message and the template around it", async () => {
    const client = h.client("warm");
    const first = `${filler("zephyr", 160)}?`;
    const before = events.length;
    await client.ask(first);
    const e1 = await lastEvent(client.conversationKey, before);
    const sequence = runner.sequenceFor(client.conversationKey)!;
    const meterBefore = sequence.tokenMeter.usedInputTokens;

    const followUp = "and what about the bridge?";
    const mid = events.length;
    await client.ask(followUp);
    const e2 = await lastEvent(client.conversationKey, mid);

    expect(e2.history.map((t) => t.role)).toEqual(["user", "assistant"]);
    expect(e2.result.slot).toBe(e1.result.slot);
    expect(e2.result.restoredFromDisk).toBe(false);
    // The whole prompt is long (system prompt, ~160-word message, the reply, the new message)…
    expect(e2.result.promptTokens).toBeGreaterThan(150);
    // …but only the new part was evaluated: the end of the previous reply's turn, the new user
    // turn and the reply's opening — plus the previous reply's last token when generation stopped
    // at the token limit (a sampled token is only evaluated when the next one is asked for).
    const newPart =
      specialCount("<|im_end|>\n<|im_start|>user\n") + runner.countTokens(followUp) + specialCount("<|im_end|>\n<|im_start|>assistant\n");
    const pending = e1.result.stopReason === "maxTokens" ? 1 : 0;
    expect(e2.result.evaluatedInputTokens).toBe(newPart + pending);
    expect(e2.result.reusedTokens).toBe(e1.result.promptTokens + e1.result.generatedTokens - pending);
    expect(e2.result.evaluatedInputTokens * 5).toBeLessThan(e2.result.promptTokens);
    // The sequence's own meter agrees (the last prompt token is metered as output: it yields the first reply token).
    expect(sequence.tokenMeter.usedInputTokens - meterBefore).toBe(e2.result.evaluatedInputTokens - 1);
    // And the sequence holds the whole conversation as the template renders it.
    const held = text(sequence.contextTokens);
    expect(held).toContain(first);
    expect(held).toContain(followUp);
  });

  it("reuseKnownTokens keeps the model's own tokens for a reply whose text re-tokenizes differently", () => {
    const model = runner.loaded.model;
    const system = "You are a helpful assistant.";
    const prompt1 = runner.renderPrompt(system, [], "hello");
    // A reply the model produced one character at a time: same text, other tokens than the tokenizer's.
    const reply = "Hello there, friend";
    const generated = [...reply].flatMap((c) => model.tokenize(c, false));
    expect(generated).not.toEqual(model.tokenize(reply, false));
    const known = [...prompt1, ...generated];
    const at = Date.now();
    const fresh = runner.renderPrompt(
      system,
      [
        { role: "user", text: "hello", at },
        { role: "assistant", text: reply, at },
      ],
      "next",
    );
    const out = reuseKnownTokens(fresh, known, {
      isSpecialToken: (t) => model.isSpecialToken(t),
      detokenize: (t) => model.detokenize(t, false),
    });
    expect(out.slice(0, known.length)).toEqual(known);
    expect(model.detokenize(out, true)).toBe(model.detokenize(fresh, true));
    // A different text (e.g. a regenerated answer) is not reused past the first differing token.
    const other = runner.renderPrompt(
      system,
      [
        { role: "user", text: "hello", at },
        { role: "assistant", text: "Goodbye", at },
      ],
      "next",
    );
    const out2 = reuseKnownTokens(other, known, {
      isSpecialToken: (t) => model.isSpecialToken(t),
      detokenize: (t) => model.detokenize(t, false),
    });
    expect(out2).toEqual(other);
  });
});

describe("batching", () => {
  it("the step barrier releases only when every member is waiting", async () => {
    const barrier = new StepBarrier();
    barrier.join();
    barrier.join();
    let released = false;
    const a = barrier.wait().then(() => {
      released = true;
    });
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(released).toBe(false);
    barrier.leave(); // the other member finished
    await a;
    expect(released).toBe(true);
    barrier.leave();
    expect(barrier.size).toBe(0);
  });

  it("the step barrier releases its members in ascending sequence order (one micro-batch in llama.cpp)", async () => {
    const barrier = new StepBarrier();
    const order: number[] = [];
    for (let i = 0; i < 4; i++) barrier.join();
    await Promise.all([2, 0, 3, 1].map((slot) => barrier.wait(slot).then(() => order.push(slot))));
    expect(order).toEqual([0, 1, 2, 3]);
    for (let i = 0; i < 4; i++) barrier.leave();
  });

  it(`${SEQUENCES} conversations at once get ${SEQUENCES} sequences and ${SEQUENCES} correct, separate histories`, async () => {
    const tags = ["alpha", "bravo", "charlie"];
    const clients = tags.map((t) => h.client(`batch-${t}`));
    const before = events.length;
    const firsts = await Promise.all(clients.map((c, i) => c.ask(`${filler(tags[i]!, 40)}.`)));
    const slots = await Promise.all(clients.map(async (c) => (await lastEvent(c.conversationKey, before)).result.slot));
    expect(new Set(slots).size).toBe(SEQUENCES);
    const mid = events.length;
    await Promise.all(clients.map((c, i) => c.ask(`${tags[i]} second question`)));
    const memory = new ConversationMemory(h.redis, h.keys, 3600);
    for (const [i, c] of clients.entries()) {
      const e = await lastEvent(c.conversationKey, mid);
      expect(e.history.map((t) => [t.role, t.text])).toEqual([
        ["user", `${filler(tags[i]!, 40)}.`],
        ["assistant", firsts[i]!.text],
      ]);
      expect((await memory.turns(c.conversationKey)).filter((t) => t.role === "user").map((t) => t.text)).toEqual([
        `${filler(tags[i]!, 40)}.`,
        `${tags[i]} second question`,
      ]);
      // The sequence holds this conversation's words and no other's.
      const held = text(runner.sequenceFor(c.conversationKey)!.contextTokens);
      expect(held).toContain(`${tags[i]} second question`);
      for (const other of tags.filter((t) => t !== tags[i])) expect(held).not.toContain(other);
      // The follow-up was answered on the warm sequence.
      expect(e.result.evaluatedInputTokens * 3).toBeLessThan(e.result.promptTokens);
    }
  });
});

describe("eviction", () => {
  it("a conversation pushed out of its sequence is restored from disk with its full memory", async () => {
    const p = h.client("evicted");
    const first = `${filler("quokka", 80)}.`;
    const before = events.length;
    await p.ask(first);
    const e1 = await lastEvent(p.conversationKey, before);
    const stored = await new ConversationMemory(h.redis, h.keys, 3600).turns(p.conversationKey);
    const savedBefore = runner.stateCache!.stats.saved;
    // As many other conversations as there are sequences: the least recently used one — p — goes.
    for (let i = 0; i < SEQUENCES; i++) await h.client(`pusher-${i}`).ask(`${filler(`pusher${i}`, 40)}.`);
    expect(runner.holders()).not.toContain(p.conversationKey);
    expect(runner.stateCache!.stats.saved).toBeGreaterThan(savedBefore);
    expect(runner.stateCache!.has(p.conversationKey)).toBe(true);

    const restoredBefore = runner.stateCache!.stats.restored;
    const mid = events.length;
    await p.ask("do you remember my first message?");
    const e2 = await lastEvent(p.conversationKey, mid);
    expect(e2.result.restoredFromDisk).toBe(true);
    expect(runner.stateCache!.stats.restored).toBe(restoredBefore + 1);
    expect(runner.stateCache!.has(p.conversationKey)).toBe(false);
    // Its generation saw every earlier turn…
    expect(e2.history.map((t) => [t.role, t.text])).toEqual(stored.map((t) => [t.role, t.text]));
    expect(stored.map((t) => t.role)).toEqual(["user", "assistant"]);
    const held = text(runner.sequenceFor(p.conversationKey)!.contextTokens);
    expect(held).toContain(first);
    expect(held).toContain("do you remember my first message?");
    // …without evaluating them again: only the new message and its template were evaluated.
    const pending = e1.result.stopReason === "maxTokens" ? 1 : 0;
    expect(e2.result.reusedTokens).toBe(e1.result.promptTokens + e1.result.generatedTokens - pending);
    expect(e2.result.evaluatedInputTokens * 5).toBeLessThan(e2.result.promptTokens);
    // The state file was removed once read back; the cache folder holds only what is still saved.
    const files = (await fs.readdir(stateDir, { recursive: true })).filter((f) => String(f).endsWith(".state"));
    expect(files.length).toBe(runner.stateCache!.size);
  });

  it("without the disk cache an evicted conversation is evaluated again in full, with the same memory", async () => {
    const { model } = runner.loaded;
    const context = await model.createContext({ sequences: 1, contextSize: 1024, threads: 1 });
    const plain = new ModelRunner({ ...runner.loaded, context }, { stateCache: false });
    try {
      const params = { systemPrompt: "You are a helpful assistant.", maxTokens: 6, temperature: 0.7, topK: 50 };
      const at = Date.now();
      const a1 = await plain.generate({ ...params, conversationKey: "a", history: [], userText: `${filler("wombat", 60)}.` });
      await plain.generate({ ...params, conversationKey: "b", history: [], userText: "something else entirely" });
      expect(plain.holders()).toEqual(["b"]);
      const history = [
        { role: "user" as const, text: `${filler("wombat", 60)}.`, at },
        { role: "assistant" as const, text: a1.text, at },
      ];
      const a2 = await plain.generate({ ...params, conversationKey: "a", history, userText: "and now?" });
      expect(a2.restoredFromDisk).toBe(false);
      // Only the system prompt was shared with "b": everything after it was evaluated again…
      expect(a2.evaluatedInputTokens).toBeGreaterThan(a2.promptTokens - runner.countTokens(params.systemPrompt) - 10);
      // …and the sequence now holds the whole conversation.
      const held = model.detokenize(plain.sequenceFor("a")!.contextTokens, false);
      expect(held).toContain(`${filler("wombat", 60)}.`);
      expect(held).toContain("and now?");
    } finally {
      await context.dispose();
    }
  });
});
