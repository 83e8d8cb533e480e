/**
 * Streaming never shows a broken multi-byte character, with the real Qwen2 tokenizer; and a
 * reasoning model's thought (Qwen3's `<think>…</think>`) never shows, with the Qwen3 test model's.
 */

import { getLlama, type Llama, LlamaLogLevel, type LlamaModel, type Token } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ThoughtMarkers } from "../../workers/inference/ChatTemplate.ts";
import { TokenStream } from "../../workers/inference/ModelRunner.ts";
import { tinyModelPath, tinyTemplateModelPath } from "../helpers/tinyModel.ts";

let llama: Llama;
let model: LlamaModel;
let qwen3: LlamaModel;

beforeAll(async () => {
  llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
  model = await llama.loadModel({ modelPath: await tinyModelPath() });
  qwen3 = await llama.loadModel({ modelPath: await tinyTemplateModelPath("qwen3") });
});
afterAll(async () => {
  await model?.dispose();
  await qwen3?.dispose();
  await llama?.dispose();
});

describe("TokenStream", () => {
  it("holds back partial UTF-8 characters until they are complete", () => {
    const text = "你是谁?我是一个大语言模型。龘靐齉𠮷😀 fin";
    const tokens = model.tokenize(text, false);
    // The tokenizer really splits some characters across tokens (so this test can fail).
    const partial = tokens.filter((t) => model.detokenize([t]).includes("\uFFFD"));
    expect(partial.length).toBeGreaterThan(0);
    const stream = new TokenStream((t) => model.detokenize(t));
    const snapshots: string[] = [];
    for (const t of tokens) {
      stream.tokens.push(t);
      snapshots.push(stream.text());
    }
    for (const s of snapshots) {
      expect(s).not.toContain("\uFFFD");
      expect(text.startsWith(s)).toBe(true);
    }
    expect(snapshots.at(-1)).toBe(text);
  });
});

describe("TokenStream with thought markers", () => {
  const markers = (): ThoughtMarkers => ({
    open: qwen3.tokenize("<think>", true),
    close: qwen3.tokenize("</think>", true),
    openAtStart: false,
  });
  const feed = (stream: TokenStream, tokens: readonly Token[]) => {
    const seen: { text: string; complete: string; phase: string }[] = [];
    for (const t of tokens) {
      stream.tokens.push(t);
      seen.push({ text: stream.text(), complete: stream.completeText(), phase: stream.phase });
    }
    return seen;
  };
  const detok = (t: readonly Token[], previous?: readonly Token[]) => qwen3.detokenize(t, false, previous);

  it("keeps the thought out of every snapshot and the final text, and counts it", () => {
    const thought = "\nThe user greets me. I should greet back, briefly.\n";
    const answer = "Hello! 你好, how can I help?";
    const tokens = qwen3.tokenize(`<think>${thought}</think>\n\n${answer}`, true);
    const m = markers();
    expect(m.open).toHaveLength(1);
    expect(tokens[0]).toBe(m.open[0]);
    const stream = new TokenStream(detok, [], m);
    const seen = feed(stream, tokens);
    const closeAt = tokens.indexOf(m.close[0]!);
    for (const s of seen.slice(0, closeAt)) expect(s).toEqual({ text: "", complete: "", phase: "thought" });
    expect(seen[closeAt]).toEqual({ text: "", complete: "", phase: "answer" });
    for (const s of seen) {
      expect(s.text).not.toMatch(/think|greet|briefly/);
      expect(answer.startsWith(s.text)).toBe(true);
    }
    expect(seen.at(-1)!.phase).toBe("answer");
    expect(stream.completeText()).toBe(answer);
    expect(stream.text()).toBe(answer);
    expect(stream.thoughtTokens).toBe(closeAt + 1);
  });

  it("a reply without a thought is all answer, shown from its first visible token", () => {
    const reply = "  Sure — here it is.";
    const tokens = qwen3.tokenize(reply, false);
    const stream = new TokenStream(detok, [], markers());
    const seen = feed(stream, tokens);
    // Leading whitespace alone does not decide yet; the first word does.
    const firstWord = tokens.findIndex((t) => qwen3.detokenize([t]).trim() !== "");
    expect(firstWord).toBeGreaterThanOrEqual(0);
    for (const s of seen.slice(0, firstWord)) expect(s.text).toBe("");
    expect(seen[firstWord]!.phase).toBe("answer");
    expect(stream.completeText()).toBe(reply);
    expect(stream.thoughtTokens).toBe(0);
  });

  it("a <think> later in a reply is plain text, and an unfinished thought leaves an empty answer", () => {
    const later = qwen3.tokenize("Use <think> tags like this.", true);
    const a = new TokenStream(detok, [], markers());
    feed(a, later);
    expect(a.completeText()).toBe("Use <think> tags like this.");
    expect(a.thoughtTokens).toBe(0);

    const unfinished = qwen3.tokenize("<think>\nStill pondering the question and", true);
    const b = new TokenStream(detok, [], markers());
    const seen = feed(b, unfinished);
    expect(seen.every((s) => s.text === "" && s.complete === "")).toBe(true);
    expect(b.phase).toBe("thought");
    expect(b.thoughtTokens).toBe(unfinished.length);
  });

  it("starts inside the thought when the template opened it in the prompt", () => {
    const tokens = qwen3.tokenize("Reasoning here.\n</think>\n\nThe answer.", true);
    const stream = new TokenStream(detok, [], { ...markers(), open: [], openAtStart: true });
    expect(stream.phase).toBe("thought");
    feed(stream, tokens);
    expect(stream.completeText()).toBe("The answer.");
  });
});
