/**
 * The tiny test models with other chat templates (Qwen2.5, Qwen3, Llama 3, Gemma, none): their
 * special tokens and ids in the file, and which chat wrapper node-llama-cpp resolves for each —
 * the same one it resolves for the real models carrying that template.
 */
import { gguf } from "@huggingface/gguf";
import {
  ChatMLChatWrapper,
  type ChatWrapper,
  GemmaChatWrapper,
  GeneralChatWrapper,
  getLlama,
  type Llama,
  Llama3ChatWrapper,
  LlamaLogLevel,
  QwenChatWrapper,
  resolveChatWrapper,
} from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testModelByteSize } from "../../tools/gguf/qwen2TestModel.ts";
import {
  GEMMA_IT_CHAT_TEMPLATE,
  LLAMA3_INSTRUCT_CHAT_TEMPLATE,
  loadQwen3ChatTemplate,
  QWEN2_5_INSTRUCT_CHAT_TEMPLATE,
  QWEN2_FIRST_FREE_TOKEN_ID,
  type TestModelTemplateName,
} from "../../tools/gguf/testModelTemplates.ts";
import { tinyModelPath, tinyTemplateModelPath } from "../helpers/tinyModel.ts";
import { SLOW, sha256 } from "./ggufTestKit.ts";

const F = QWEN2_FIRST_FREE_TOKEN_ID;

interface Expected {
  wrapper: abstract new (...args: never[]) => ChatWrapper;
  chatTemplate: () => Promise<string | undefined>;
  /** Added control tokens by id. */
  added: Record<number, string>;
  bos: number;
  eos: number;
  eot: number | undefined;
  padding: number;
  addBos: boolean;
  /** Turn markers that must be one control token each. */
  markers: string[];
}

const QWEN_IDS = { bos: 151643, eos: 151645, eot: undefined, padding: 151643, addBos: false, added: {} };

const EXPECTED: Record<Exclude<TestModelTemplateName, "qwen2">, Expected> = {
  "qwen2.5": {
    wrapper: QwenChatWrapper,
    chatTemplate: async () => QWEN2_5_INSTRUCT_CHAT_TEMPLATE,
    ...QWEN_IDS,
    markers: ["<|im_start|>", "<|im_end|>"],
  },
  qwen3: { wrapper: QwenChatWrapper, chatTemplate: loadQwen3ChatTemplate, ...QWEN_IDS, markers: ["<|im_start|>", "<|im_end|>"] },
  llama3: {
    wrapper: Llama3ChatWrapper,
    chatTemplate: async () => LLAMA3_INSTRUCT_CHAT_TEMPLATE,
    added: {
      [F]: "<|begin_of_text|>",
      [F + 1]: "<|end_of_text|>",
      [F + 2]: "<|start_header_id|>",
      [F + 3]: "<|end_header_id|>",
      [F + 4]: "<|eot_id|>",
    },
    bos: F,
    eos: F + 1,
    eot: F + 4,
    padding: F + 1,
    addBos: true,
    markers: ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
  },
  gemma: {
    wrapper: GemmaChatWrapper,
    chatTemplate: async () => GEMMA_IT_CHAT_TEMPLATE,
    added: { [F]: "<pad>", [F + 1]: "<eos>", [F + 2]: "<bos>", [F + 3]: "<start_of_turn>", [F + 4]: "<end_of_turn>" },
    bos: F + 2,
    eos: F + 1,
    eot: F + 4,
    padding: F,
    addBos: true,
    markers: ["<bos>", "<start_of_turn>", "<end_of_turn>"],
  },
  none: { wrapper: GeneralChatWrapper, chatTemplate: async () => undefined, ...QWEN_IDS, markers: ["<|im_start|>", "<|im_end|>"] },
};

let llama: Llama;
beforeAll(async () => {
  llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
});
afterAll(async () => {
  await llama?.dispose();
});

describe("test models with other chat templates", () => {
  it("leave the default model byte-identical and are distinct files of their own", { timeout: SLOW }, async () => {
    const base = await tinyModelPath();
    const llama3 = await tinyTemplateModelPath("llama3");
    expect(llama3).toMatch(/qwen2-tiny-f32-s1-llama3\.gguf$/);
    expect(await sha256(llama3)).not.toBe(await sha256(base));
    // Only the tokenizer metadata differs: the size moves by the added tokens' text, not by tensors.
    expect(Math.abs((await testModelByteSize("tiny", "f32", "llama3")) - (await testModelByteSize("tiny", "f32")))).toBeLessThan(4096);
  });

  for (const [name, want] of Object.entries(EXPECTED) as [Exclude<TestModelTemplateName, "qwen2">, Expected][]) {
    it(`${name}: carries its template and special tokens, and node-llama-cpp resolves ${want.wrapper.name}`, {
      timeout: SLOW,
    }, async () => {
      const path = await tinyTemplateModelPath(name);
      const parsed = await gguf(path, { allowLocalFile: true });
      const md = parsed.metadata as unknown as Record<string, unknown>;
      expect(md["general.architecture"]).toBe("qwen2");
      expect(md["tokenizer.chat_template"]).toBe(await want.chatTemplate());
      expect(md["tokenizer.ggml.bos_token_id"]).toBe(want.bos);
      expect(md["tokenizer.ggml.eos_token_id"]).toBe(want.eos);
      expect(md["tokenizer.ggml.eot_token_id"]).toBe(want.eot);
      expect(md["tokenizer.ggml.padding_token_id"]).toBe(want.padding);
      expect(md["tokenizer.ggml.add_bos_token"]).toBe(want.addBos);
      const tokens = md["tokenizer.ggml.tokens"] as string[];
      const types = md["tokenizer.ggml.token_type"] as number[];
      for (const [id, text] of Object.entries(want.added)) {
        expect(tokens[Number(id)]).toBe(text);
        expect(types[Number(id)]).toBe(3); // control
      }
      const firstUnused = F + Object.keys(want.added).length;
      expect(tokens[firstUnused]).toBe(`[PAD${firstUnused}]`);
      // Qwen's own reasoning markers stay user-defined, as in Qwen3's tokenizer.
      expect([tokens[151667], types[151667], tokens[151668], types[151668]]).toEqual(["<think>", 4, "</think>", 4]);

      const model = await llama.loadModel({ modelPath: path });
      try {
        const wrapper = resolveChatWrapper(model);
        expect(wrapper).toBeInstanceOf(want.wrapper);
        if (want.wrapper === QwenChatWrapper) expect(wrapper).not.toBeInstanceOf(ChatMLChatWrapper);
        expect(model.tokens.bos).toBe(want.bos);
        expect(model.tokens.eos).toBe(want.eos);
        if (want.eot !== undefined) {
          expect(model.tokens.eot).toBe(want.eot);
          expect(model.isEogToken(want.eot as never)).toBe(true);
        }
        expect(model.isEogToken(want.eos as never)).toBe(true);
        for (const marker of want.markers) {
          const [id, ...rest] = model.tokenize(marker, true);
          expect(rest, marker).toEqual([]);
          expect(model.getTokenAttributes(id!).control, marker).toBe(true);
          // Without special-token parsing the same text is plain text.
          expect(model.tokenize(marker, false), marker).not.toContain(id);
        }
      } finally {
        await model.dispose();
      }
    });
  }
});
