/**
 * The openai engine against the loopback OpenAI-compatible server: what a request carries, how
 * the stream becomes text, how a reply ends (end of turn, max_tokens, context), Stop seen by the
 * server as a disconnect, and byte-identical prefixes from one turn to the next.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { ChatTurn } from "../../../../src/types.ts";
import { simTokenize } from "../../../sim/openai/simTokenizer.ts";
import { SYSTEM, startTestbed, type Testbed, turn } from "./engineTestbed.ts";

let bed: Testbed | undefined;
afterEach(async () => {
  await bed?.stop();
  bed = undefined;
});

describe("openai engine: requests and streams", () => {
  it("streams the reply as growing text and passes sampling, max_tokens, usage and cache_prompt (llama-server)", async () => {
    bed = await startTestbed({ reply: () => ["Bon", "jour", " à", " vous", " 🙂"] });
    const seen: string[] = [];
    const result = await bed.engine.generate(
      turn([], "Hello there", { temperature: 0.3, topK: 7, maxTokens: 33, onText: (t) => seen.push(t) }),
    );
    expect(seen).toEqual(["Bon", "Bonjour", "Bonjour à", "Bonjour à vous", "Bonjour à vous 🙂"]);
    expect(result.text).toBe("Bonjour à vous 🙂");
    expect(result.stopReason).toBe("eos");
    expect(result.generatedTokens).toBe(5);
    const chat = bed.sim.chats[0]!;
    expect(result.promptTokens).toBe(chat.promptTokens);
    expect(chat.body).toMatchObject({
      model: "sim-model",
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 33,
      temperature: 0.3,
      top_k: 7,
      cache_prompt: true,
    });
    expect(chat.body.messages).toEqual([
      { role: "system", content: SYSTEM },
      { role: "user", content: "Hello there" },
    ]);
    expect(chat.completed).toBe(true);
    expect(chat.clientDisconnected).toBe(false);
    expect(result.firstTokenAt).toBeGreaterThanOrEqual(result.startedAt);
    expect(result.totalMs).toBeGreaterThanOrEqual(result.ttftMs);
  });

  it("sends top_k but no llama-only cache_prompt to a vLLM-shaped server", async () => {
    bed = await startTestbed({ shape: "vllm", models: ["Qwen/Qwen2-0.5B-Instruct"] });
    const result = await bed.engine.generate(turn([], "Hi", { topK: 20 }));
    expect(result.text).toBe("Hello from the sim.");
    const body = bed.sim.chats[0]!.body;
    expect(body.top_k).toBe(20);
    expect(body.model).toBe("Qwen/Qwen2-0.5B-Instruct");
    expect("cache_prompt" in body).toBe(false);
  });

  it("sends no Authorization header without a key, and the key (never logged) with one", async () => {
    bed = await startTestbed();
    await bed.engine.generate(turn([], "Hi"));
    expect(bed.sim.requests.length).toBeGreaterThan(3);
    for (const r of bed.sim.requests) expect(r.authorization).toBeUndefined();
    await bed.stop();
    const key = "sk-test-0123456789abcdef0123456789";
    bed = await startTestbed({ apiKey: key }, { apiKey: key });
    const result = await bed.engine.generate(turn([], "Hi"));
    expect(result.text).toBe("Hello from the sim.");
    for (const r of bed.sim.requests) expect(r.authorization).toBe(`Bearer ${key}`);
    expect(bed.engine.server?.tokenizer).toBe("llama");
    expect(bed.logs.raw.length).toBeGreaterThan(0);
    expect(bed.logs.raw.join("")).not.toContain(key);
  });

  it("finish_reason length at max_tokens is maxTokens; short of it, where the context ran out, contextFull", async () => {
    const long = Array.from({ length: 40 }, (_, i) => ` w${i}`);
    bed = await startTestbed({ reply: () => long, contextSize: 60 });
    const capped = await bed.engine.generate(turn([], "Hi", { maxTokens: 6 }));
    expect(bed.sim.chats[0]!.finishReason).toBe("length");
    expect(capped.stopReason).toBe("maxTokens");
    expect(capped.generatedTokens).toBe(6);
    const full = await bed.engine.generate(turn([], "Hi", { maxTokens: 50 }));
    const chat = bed.sim.chats[1]!;
    expect(chat.finishReason).toBe("length");
    expect(full.generatedTokens).toBeLessThan(50);
    expect(full.generatedTokens + chat.promptTokens).toBe(59);
    expect(full.stopReason).toBe("contextFull");
  });

  it("Stop aborts the HTTP stream: the server sees the client disconnect mid-reply", async () => {
    const many = Array.from({ length: 200 }, (_, i) => ` t${i}`);
    bed = await startTestbed({ reply: () => many, pieceDelayMs: 15 });
    const stop = new AbortController();
    let pieces = 0;
    const result = await bed.engine.generate(
      turn([], "Tell me a long story", {
        maxTokens: 500,
        signal: stop.signal,
        onText: () => {
          if (++pieces === 3) stop.abort(new Error("stopped by user"));
        },
      }),
    );
    expect(result.stopReason).toBe("abort");
    expect(result.text).toBe(" t0 t1 t2");
    const chat = await bed.sim.waitFor(() => bed!.sim.chats[0]?.endedAt !== undefined && bed!.sim.chats[0]);
    expect(chat.clientDisconnected).toBe(true);
    expect(chat.completed).toBe(false);
    expect(chat.piecesSent).toBeLessThan(many.length);
  });

  it("runs replies side by side, each with its own stream", async () => {
    bed = await startTestbed({ reply: (chat) => [`for`, ` ${chat.body.messages.at(-1)!.content}`], pieceDelayMs: 20 });
    const [a, b] = await Promise.all([bed.engine.generate(turn([], "alpha")), bed.engine.generate(turn([], "beta"))]);
    expect([a.text, b.text]).toEqual(["for alpha", "for beta"]);
    const [c1, c2] = bed.sim.chats;
    // The second request started before the first one ended.
    expect(c2!.startedAt).toBeLessThanOrEqual(c1!.endedAt!);
  });
});

describe("openai engine: byte-identical prefixes", () => {
  it("each turn's messages start with the previous turn's messages and its stored reply, byte for byte", async () => {
    let n = 0;
    bed = await startTestbed({ reply: () => [`Answer`, ` ${++n}`, " — ok", "\n"] });
    const history: ChatTurn[] = [];
    const questions = ["First question?", 'Second, with ünïcödé and "quotes"', "Third\nwith a newline"];
    for (const q of questions) {
      const fit = await bed.engine.fitHistory(SYSTEM, history, q, 64);
      expect(fit.dropped).toBe(0);
      const result = await bed.engine.generate(turn(fit.history, q));
      history.push(
        { role: "user", text: q, name: "Ann", tokens: fit.userTokens, at: Date.now() },
        { role: "assistant", text: result.text, tokens: await bed.engine.turnTokens(result.text), at: Date.now() },
      );
    }
    const bodies = bed.sim.chats.map((c) => c.body.messages);
    expect(bodies).toHaveLength(3);
    for (let i = 1; i < bodies.length; i++) {
      const before = bodies[i - 1]!;
      const after = bodies[i]!;
      // The previous request's messages, then its reply, then the new message: nothing else changed.
      const previousReply = history[2 * i - 1]!.text;
      const expected = JSON.stringify([...before, { role: "assistant", content: previousReply }]);
      const prefix = JSON.stringify(after.slice(0, before.length + 1));
      expect(prefix).toBe(expected);
      expect(after.at(-1)).toEqual({ role: "user", content: questions[i] });
    }
    // The reply is stored exactly as streamed (trailing newline included), and no author name leaks into the prompt.
    expect(history[1]!.text).toBe("Answer 1 — ok\n");
    expect(JSON.stringify(bodies)).not.toContain("Ann");
    // The server's prefix cache: turn 2 reuses all of turn 1's prompt and reply but the last token or so.
    const [c1, c2] = bed.sim.chats;
    expect(c2!.cachedTokens).toBeGreaterThanOrEqual(c1!.promptTokens - 1);
    expect(c2!.cachedTokens).toBeLessThan(c2!.promptTokens);
    const second = bed.sim.chats[1]!;
    expect(second.body.cache_prompt).toBe(true);
    // Stored turn sizes are the server's count plus the measured template overhead (ChatML: 5).
    expect(history[1]!.tokens).toBe(simTokenize("Answer 1 — ok\n").length + 5);
  });

  it("reports the server's cached prompt tokens for a follow-up", async () => {
    bed = await startTestbed();
    const first = await bed.engine.generate(turn([], "One"));
    expect(first.cachedPromptTokens).toBe(0);
    const history: ChatTurn[] = [
      { role: "user", text: "One", at: 1 },
      { role: "assistant", text: first.text, at: 2 },
    ];
    const second = await bed.engine.generate(turn(history, "Two"));
    expect(second.cachedPromptTokens).toBe(bed.sim.chats[1]!.cachedTokens);
    expect(second.cachedPromptTokens).toBeGreaterThan(first.promptTokens - 2);
    expect(second.evaluatedInputTokens).toBe(second.promptTokens - second.cachedPromptTokens!);
  });
});
