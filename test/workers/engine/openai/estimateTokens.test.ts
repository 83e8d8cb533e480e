/**
 * The token estimate used for servers without a tokenizer endpoint errs high on the kinds of text
 * people send, measured against the real Qwen2 tokenizer (the test model's), and is not absurdly
 * high on plain English.
 */
import { getLlama, type Llama, LlamaLogLevel, type LlamaModel } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { estimateTokens } from "../../../../workers/engine/openai/estimateTokens.ts";
import { tinyModelPath } from "../../../helpers/tinyModel.ts";

const SAMPLES: Record<string, string> = {
  english:
    "The quick brown fox jumps over the lazy dog. Could you explain how prefix caching works in llama.cpp's server, and why a byte-identical prompt matters?",
  code: "function fit(budget, history) {\n  for (let i = history.length - 1; i >= 0; i--) {\n    if (cost[i] > remaining) break;\n  }\n  return { kept: history.slice(i) };\n}",
  json: '{"id":"chatcmpl-123","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"}}]}',
  chinese: "人工智能是计算机科学的一个分支，它企图了解智能的实质，并生产出一种新的能以人类智能相似的方式做出反应的智能机器。",
  japanese:
    "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。何でも薄暗いじめじめした所で泣いていた事だけは記憶している。",
  korean: "대한민국은 동아시아의 한반도 남부에 위치한 민주공화국이다. 수도는 서울특별시이다.",
  russian: "Съешь же ещё этих мягких французских булок, да выпей чаю. Москва — столица России.",
  arabic: "اللغة العربية هي أكثر اللغات السامية تحدثاً، وإحدى أكثر اللغات انتشاراً في العالم.",
  hindi: "हिन्दी विश्व की एक प्रमुख भाषा है एवं भारत की राजभाषा है।",
  emoji: "🎉🚀👍🏽🔥😂🇫🇷❤️‍🔥🧑‍💻✨🙈",
  digits: "3141592653589793238462643383279502884197169399375105820974944592307816406286",
  phone: "Call 555-0199 or +1 (202) 555-0143 before 2024-12-31 23:59:59, order #884213.",
  url: "https://example.com/path/to/resource?query=abc123&id=42#frag",
  whitespace: "a  b   c    d     e\t\tf\n\n\ng        h",
  punctuation: "!!!???...;;;:::---___***&&&%%%$$$###@@@~~~```'''\"\"\"",
  mixed: "In 2023, GPT-4 scored 86.4% on MMLU (5-shot); Qwen2-72B got 84.2%. 中文也可以。🙂",
  markdown: "## Steps\n\n1. Run `npm run bench -- --workers 2`\n2. Compare **decode** tok/s\n\n> Note: see [docs](docs/performance.md).",
};

let llama: Llama;
let model: LlamaModel;
beforeAll(async () => {
  llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error });
  model = await llama.loadModel({ modelPath: await tinyModelPath() });
});
afterAll(async () => {
  await model?.dispose();
  await llama?.dispose();
});

describe("estimateTokens against Qwen2's tokenizer", () => {
  for (const [name, text] of Object.entries(SAMPLES)) {
    it(`${name}: never under the real count`, () => {
      const real = model.tokenize(text, false).length;
      expect(estimateTokens(text)).toBeGreaterThanOrEqual(real);
    });
  }

  it("English prose is over-counted at most 2.5×", () => {
    const text = SAMPLES.english!.repeat(5);
    const real = model.tokenize(text, false).length;
    expect(estimateTokens(text)).toBeLessThanOrEqual(real * 2.5);
  });

  it("counts the empty text as nothing and grows with the text", () => {
    expect(estimateTokens("")).toBe(0);
    expect(estimateTokens("a".repeat(300))).toBeGreaterThan(estimateTokens("a".repeat(30)));
  });
});
