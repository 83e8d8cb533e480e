/** Streaming never shows a broken multi-byte character, with the real Qwen2 tokenizer. */

import { getLlama, type Llama, type LlamaModel } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenStream } from "../../workers/inference/ModelRunner.ts";
import { tinyModelPath } from "../helpers/tinyModel.ts";

let llama: Llama;
let model: LlamaModel;

beforeAll(async () => {
  llama = await getLlama({ gpu: false, build: "never" });
  model = await llama.loadModel({ modelPath: await tinyModelPath() });
});
afterAll(async () => {
  await model?.dispose();
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
