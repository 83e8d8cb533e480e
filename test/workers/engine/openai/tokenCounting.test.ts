/**
 * Token counting and history fitting through the openai engine: with llama-server's `/tokenize`,
 * with vLLM's, and with the estimate where the server has none; the context size from the server
 * or OPENAI_CONTEXT_SIZE; the template overhead measured where the server can render its template.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { ChatTurn } from "../../../../src/types.ts";
import { DEFAULT_TEMPLATE } from "../../../../workers/engine/openai/discoverServer.ts";
import { estimateTokens } from "../../../../workers/engine/openai/estimateTokens.ts";
import { FALLBACK_CONTEXT_SIZE } from "../../../../workers/engine/openai/OpenAIEngine.ts";
import { SIM_REPLY_PREFIX, SIM_TURN_OVERHEAD, simTokenize } from "../../../sim/openai/simTokenizer.ts";
import { SYSTEM, startTestbed, type Testbed, turn } from "./engineTestbed.ts";

let bed: Testbed | undefined;
afterEach(async () => {
  await bed?.stop();
  bed = undefined;
});

const tokenizeCalls = () => bed!.sim.requests.filter((r) => r.path === "/tokenize");

function conversation(turns: number, words = 10): ChatTurn[] {
  const out: ChatTurn[] = [];
  for (let i = 0; i < turns; i++)
    out.push({ role: i % 2 === 0 ? "user" : "assistant", text: Array.from({ length: words }, (_, w) => `t${i}w${w}`).join(" "), at: i });
  return out;
}

describe("counting with the server's tokenizer", () => {
  it("llama-server: /tokenize {content} at the server root, the template measured through /apply-template", async () => {
    bed = await startTestbed({ contextSize: 1000 });
    expect(bed.engine.server).toMatchObject({
      backend: "llama-server",
      tokenizer: "llama",
      serverContextSize: 1000,
      template: { turnOverheadTokens: SIM_TURN_OVERHEAD, replyPrefixTokens: SIM_REPLY_PREFIX, measured: true },
    });
    expect(bed.engine.info).toMatchObject({ contextSize: 1000, tokenCounter: "server", backend: "llama-server" });
    const text = "Counting: 12 apples, 7 pears & one (very) big melon!";
    const before = tokenizeCalls().length;
    expect(await bed.engine.turnTokens(text)).toBe(simTokenize(text).length + SIM_TURN_OVERHEAD);
    const calls = tokenizeCalls().slice(before);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.body).toEqual({ content: text });
    // Counted once: the next ask comes from the cache.
    await bed.engine.turnTokens(text);
    expect(tokenizeCalls().length).toBe(before + 1);
  });

  it("vLLM: /tokenize {model, prompt}, the template measured with {model, messages}, the context from max_model_len", async () => {
    bed = await startTestbed({ shape: "vllm", models: ["m"], contextSize: 4000 });
    expect(bed.engine.server).toMatchObject({ backend: "vLLM", tokenizer: "vllm", template: { measured: true, turnOverheadTokens: 5 } });
    expect(bed.engine.info.contextSize).toBe(4000);
    const text = "How many tokens, exactly?";
    expect(await bed.engine.turnTokens(text)).toBe(simTokenize(text).length + SIM_TURN_OVERHEAD);
    expect(tokenizeCalls().at(-1)!.body).toEqual({ model: "m", prompt: text, add_special_tokens: false });
    expect(tokenizeCalls().some((r) => Array.isArray((r.body as { messages?: unknown }).messages))).toBe(true);
  });

  it("fits the history into the server's context exactly as its tokenizer counts, newest turns first", async () => {
    bed = await startTestbed({ contextSize: 600 });
    const history = conversation(30);
    const user = "What did we say?";
    const fit = await bed.engine.fitHistory(SYSTEM, history, user, 64);
    expect(fit.dropped).toBeGreaterThan(0);
    expect(fit.history[0]!.role).toBe("user");
    expect(fit.history).toEqual(history.slice(fit.dropped));
    // The kept prompt fits the server's count, and one more turn would not have.
    const cost = (t: string) => simTokenize(t).length + SIM_TURN_OVERHEAD;
    const fixed = cost(SYSTEM) + cost(user) + SIM_REPLY_PREFIX + 64;
    const kept = fit.history.reduce((n, t) => n + cost(t.text), 0);
    expect(fixed + kept).toBeLessThanOrEqual(600);
    expect(fixed + kept + cost(history[fit.dropped - 1]!.text) + cost(history[fit.dropped - 2]!.text)).toBeGreaterThan(600);
    expect(fit.userTokens).toBe(cost(user));
    // And the server accepts it: the same count on its side.
    const result = await bed.engine.generate(turn(fit.history, user));
    expect(result.promptTokens).toBe(fixed - 64 + kept);
  });

  it("uses a turn's stored token count instead of asking the server", async () => {
    bed = await startTestbed();
    const history = conversation(6).map((t) => ({ ...t, tokens: 20 }));
    const before = tokenizeCalls().length;
    await bed.engine.fitHistory(SYSTEM, history, "new message", 64);
    const asked = tokenizeCalls()
      .slice(before)
      .map((r) => (r.body as { content: string }).content);
    expect(asked.sort()).toEqual([SYSTEM, "new message"].sort());
  });

  it("refuses a message that alone does not fit, saying how much would", async () => {
    bed = await startTestbed({ contextSize: 300 });
    const fit = await bed.engine.fitHistory(SYSTEM, conversation(4), "word ".repeat(300), 64);
    expect(fit.tooLong).toBe(true);
    expect(fit.maxUserTokens).toBe(300 - (simTokenize(SYSTEM).length + SIM_TURN_OVERHEAD + SIM_REPLY_PREFIX + 64) - SIM_TURN_OVERHEAD);
  });

  it("OPENAI_CONTEXT_SIZE narrows the server's context but never widens it", async () => {
    bed = await startTestbed({ contextSize: 3000 }, { contextSize: 1024 });
    expect(bed.engine.info.contextSize).toBe(1024);
    await bed.stop();
    bed = await startTestbed({ contextSize: 3000 }, { contextSize: 8192 });
    expect(bed.engine.info.contextSize).toBe(3000);
    expect(bed.logs.lines().some((l) => l.level === 40 && String(l.msg).includes("OPENAI_CONTEXT_SIZE"))).toBe(true);
  });
});

describe("counting without a tokenizer endpoint (Ollama, SGLang, LM Studio)", () => {
  it("estimates, with the default template overhead and the fallback context size (or OPENAI_CONTEXT_SIZE)", async () => {
    bed = await startTestbed({ shape: "none" });
    expect(bed.engine.server).toMatchObject({ backend: "OpenAI-compatible", tokenizer: "estimate", template: { measured: false } });
    expect(bed.engine.info).toMatchObject({ tokenCounter: "estimate", contextSize: FALLBACK_CONTEXT_SIZE });
    const text = "An estimate, erring high: 2024-05-01.";
    expect(await bed.engine.turnTokens(text)).toBe(estimateTokens(text) + DEFAULT_TEMPLATE.turnOverheadTokens);
    // Only the two detection probes (llama-server's shape, vLLM's), both 404: nothing since.
    expect(tokenizeCalls()).toHaveLength(2);
    expect(bed.logs.lines().some((l) => String(l.msg).includes("set OPENAI_CONTEXT_SIZE"))).toBe(true);
    await bed.stop();
    bed = await startTestbed({ shape: "none" }, { contextSize: 8192 });
    expect(bed.engine.info.contextSize).toBe(8192);
  });

  it("the server's prompt count scales a low estimate up for later counts (never down)", async () => {
    // The simulator counts every punctuation mark as a token: far above the estimate of 1 per 3 ASCII characters.
    bed = await startTestbed({ shape: "none" });
    const punct = "?!".repeat(200);
    const before = await bed.engine.turnTokens(punct);
    const result = await bed.engine.generate(turn([], punct));
    expect(result.promptTokens).toBeGreaterThan(before);
    const factor = bed.engine.tokens!.calibrationFactor;
    expect(factor).toBeGreaterThan(1);
    const after = await bed.engine.turnTokens(punct);
    expect(after).toBeGreaterThan(before);
    // A prompt the estimate over-counts leaves the factor alone.
    await bed.engine.generate(turn([], "plain words only here"));
    expect(bed.engine.tokens!.calibrationFactor).toBe(factor);
  });
});
