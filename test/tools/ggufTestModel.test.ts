/**
 * The project's tiny random-weight Qwen2 test model: its metadata, tokenizer and tensors,
 * determinism per seed, ensureTestModel under concurrency, and node-llama-cpp loading it and
 * answering. Shared helpers: ggufTestKit.ts.
 */
import { mkdtemp, open, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { GGMLQuantizationType, GGUFValueType, gguf } from "@huggingface/gguf";
import { ChatMLChatWrapper, getLlama, LlamaChatSession, LlamaLogLevel, resolveChatWrapper } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
import { defaultTestModelPath, ensureTestModel } from "../../tools/gguf/ensureTestModel.ts";
import {
  makeTestModel,
  planQwen2Tensors,
  QWEN2_INSTRUCT_CHAT_TEMPLATE,
  TEST_MODEL_GENERATOR_VERSION,
  TEST_MODEL_SHAPES,
  testModelByteSize,
} from "../../tools/gguf/qwen2TestModel.ts";
import { tinyModelPath } from "../helpers/tinyModel.ts";
import { readRange, SLOW, sha256, useTempDir } from "./ggufTestKit.ts";

const dir = useTempDir();

describe("tiny Qwen2 test model", () => {
  it("has the Qwen2 metadata, tokenizer and tensors", { timeout: SLOW }, async () => {
    const path = await tinyModelPath();
    expect(path).toBe(defaultTestModelPath("tiny", "f32", 1));
    expect((await stat(path)).size).toBe(await testModelByteSize("tiny", "f32"));
    const parsed = await gguf(path, { allowLocalFile: true, typedMetadata: true });
    const md = parsed.metadata as unknown as Record<string, unknown>;
    const s = TEST_MODEL_SHAPES.tiny;
    expect(md).toMatchObject({
      version: 3,
      "general.architecture": "qwen2",
      "general.file_type": 0,
      "qwen2.context_length": 32768,
      "qwen2.embedding_length": 64,
      "qwen2.block_count": 2,
      "qwen2.feed_forward_length": 128,
      "qwen2.attention.head_count": 4,
      "qwen2.attention.head_count_kv": 2,
      "qwen2.rope.freq_base": 1000000,
      "tokenizer.ggml.model": "gpt2",
      "tokenizer.ggml.pre": "qwen2",
      "tokenizer.ggml.eos_token_id": 151645,
      "tokenizer.ggml.padding_token_id": 151643,
      "tokenizer.ggml.bos_token_id": 151643,
      "tokenizer.ggml.add_bos_token": false,
      "tokenizer.chat_template": QWEN2_INSTRUCT_CHAT_TEMPLATE,
      "qwenbot.test_model.version": TEST_MODEL_GENERATOR_VERSION,
    });
    expect(md["qwen2.attention.layer_norm_rms_epsilon"]).toBeCloseTo(1e-6, 12);
    expect(typeof md["general.name"]).toBe("string");
    const typed = parsed.typedMetadata as Record<string, { type: number; subType?: number }>;
    expect(typed["qwen2.block_count"]!.type).toBe(GGUFValueType.UINT32);
    expect(typed["tokenizer.ggml.token_type"]!.subType).toBe(GGUFValueType.INT32);

    const tokens = md["tokenizer.ggml.tokens"] as string[];
    const types = md["tokenizer.ggml.token_type"] as number[];
    const merges = md["tokenizer.ggml.merges"] as string[];
    expect(tokens).toHaveLength(151936);
    expect(types).toHaveLength(151936);
    expect(merges).toHaveLength(151387);
    expect(merges[0]).toBe("Ġ Ġ");
    expect(merges.every((m) => m.split(" ").length === 2)).toBe(true);
    expect(tokens[0]).toBe("!");
    expect(tokens[151643]).toBe("<|endoftext|>");
    expect(tokens[151644]).toBe("<|im_start|>");
    expect(tokens[151645]).toBe("<|im_end|>");
    expect(tokens[151668]).toBe("</think>");
    expect(tokens[151669]).toBe("[PAD151669]");
    expect(tokens[151935]).toBe("[PAD151935]");
    expect(types[0]).toBe(1);
    expect(types[151642]).toBe(1);
    expect(types.slice(151643, 151657)).toEqual(new Array(14).fill(3)); // special: control
    expect(types.slice(151657, 151669)).toEqual(new Array(12).fill(4)); // user-defined
    expect(types.slice(151669).every((t) => t === 5)).toBe(true);

    const plan = planQwen2Tensors(s, "f32");
    expect(parsed.tensorInfos).toHaveLength(1 + 2 * 12 + 1);
    expect(parsed.tensorInfos.map((t) => t.name)).toEqual(plan.map((t) => t.name));
    const byName = new Map(parsed.tensorInfos.map((t) => [t.name, t]));
    const expectTensor = (name: string, shape: number[]): void => {
      const t = byName.get(name);
      expect(t, name).toBeDefined();
      expect(t!.shape.map(Number), name).toEqual(shape);
      expect(t!.dtype, name).toBe(GGMLQuantizationType.F32);
      expect(Number(t!.offset) % 32, name).toBe(0);
    };
    expectTensor("token_embd.weight", [64, 151936]);
    expectTensor("output_norm.weight", [64]);
    expect(byName.has("output.weight")).toBe(false);
    for (const n of [0, 1]) {
      expectTensor(`blk.${n}.attn_norm.weight`, [64]);
      expectTensor(`blk.${n}.attn_q.weight`, [64, 64]);
      expectTensor(`blk.${n}.attn_q.bias`, [64]);
      expectTensor(`blk.${n}.attn_k.weight`, [64, 32]);
      expectTensor(`blk.${n}.attn_k.bias`, [32]);
      expectTensor(`blk.${n}.attn_v.weight`, [64, 32]);
      expectTensor(`blk.${n}.attn_v.bias`, [32]);
      expectTensor(`blk.${n}.attn_output.weight`, [64, 64]);
      expectTensor(`blk.${n}.ffn_norm.weight`, [64]);
      expectTensor(`blk.${n}.ffn_gate.weight`, [64, 128]);
      expectTensor(`blk.${n}.ffn_up.weight`, [64, 128]);
      expectTensor(`blk.${n}.ffn_down.weight`, [128, 64]);
    }

    // norm weights are 1.0; other weights small noise
    const dataAt = Number(parsed.tensorDataOffset);
    const norm = await readRange(path, dataAt + Number(byName.get("blk.1.ffn_norm.weight")!.offset), 64 * 4);
    expect([...new Float32Array(norm.slice().buffer)]).toEqual(new Array(64).fill(1));
    const q = await readRange(path, dataAt + Number(byName.get("blk.0.attn_q.weight")!.offset), 64 * 4);
    const qv = [...new Float32Array(q.slice().buffer)];
    expect(qv.every((x) => Math.abs(x) < 0.1)).toBe(true);
    expect(new Set(qv).size).toBeGreaterThan(50);
  });

  it("is deterministic for a seed, differs for another, and has Q8_0/F16 tensors", { timeout: SLOW }, async () => {
    const a = await makeTestModel({ shape: "tiny", type: "q8_0", seed: 7, out: join(dir(), "a.gguf") });
    const b = await makeTestModel({ shape: "tiny", type: "q8_0", seed: 7, out: join(dir(), "b.gguf") });
    const c = await makeTestModel({ shape: "tiny", type: "q8_0", seed: 8, out: join(dir(), "c.gguf") });
    expect(a.bytes).toBe(await testModelByteSize("tiny", "q8_0"));
    expect(a.parameters).toBe(151936 * 64 + 64 + 2 * (64 * 3 + 64 * 64 * 2 + 64 * 32 * 2 + 32 * 2 + 64 * 128 * 3));
    expect(await sha256(b.path)).toBe(await sha256(a.path));
    expect(await sha256(c.path)).not.toBe(await sha256(a.path));

    const parsed = await gguf(a.path, { allowLocalFile: true });
    expect((parsed.metadata as unknown as Record<string, unknown>)["general.file_type"]).toBe(7);
    const dtypes = new Map(parsed.tensorInfos.map((t) => [t.name, t.dtype]));
    expect(dtypes.get("token_embd.weight")).toBe(GGMLQuantizationType.Q8_0);
    expect(dtypes.get("blk.0.ffn_down.weight")).toBe(GGMLQuantizationType.Q8_0);
    expect(dtypes.get("blk.0.attn_q.bias")).toBe(GGMLQuantizationType.F32);
    expect(dtypes.get("output_norm.weight")).toBe(GGMLQuantizationType.F32);

    const f16 = await makeTestModel({ shape: "tiny", type: "f16", seed: 7, out: join(dir(), "h.gguf") });
    const ph = await gguf(f16.path, { allowLocalFile: true });
    expect((ph.metadata as unknown as Record<string, unknown>)["general.file_type"]).toBe(1);
    expect(ph.tensorInfos.find((t) => t.name === "blk.1.ffn_up.weight")!.dtype).toBe(GGMLQuantizationType.F16);
    expect(ph.tensorInfos.find((t) => t.name === "blk.1.ffn_norm.weight")!.dtype).toBe(GGMLQuantizationType.F32);
  });

  it("ensureTestModel is safe to call concurrently and replaces a wrong-sized or stale file", { timeout: SLOW }, async () => {
    const sub = await mkdtemp(join(dir(), "ensure-"));
    const out = join(sub, "m.gguf");
    const [p1, p2] = await Promise.all([ensureTestModel({ type: "q8_0", seed: 3, out }), ensureTestModel({ type: "q8_0", seed: 3, out })]);
    expect(p1).toBe(out);
    expect(p2).toBe(out);
    expect(await readdir(sub)).toEqual(["m.gguf"]); // no temporary files left
    const hash = await sha256(out);
    await writeFile(out, "not a model");
    await ensureTestModel({ type: "q8_0", seed: 3, out });
    expect(await sha256(out)).toBe(hash);
    // same size, different header (as a file from an older generator would be)
    const fh = await open(out, "r+");
    await fh.write(Buffer.from("seed 9"), 0, 6, 200);
    await fh.close();
    expect(await sha256(out)).not.toBe(hash);
    await ensureTestModel({ type: "q8_0", seed: 3, out });
    expect(await sha256(out)).toBe(hash);
  });
});

describe("tiny model in node-llama-cpp", () => {
  it("loads, tokenizes like Qwen2, resolves ChatML and answers a prompt", { timeout: SLOW }, async () => {
    const modelPath = await tinyModelPath();
    const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error });
    try {
      const model = await llama.loadModel({ modelPath });
      try {
        const text = "你是谁?";
        const tokens = model.tokenizer(text);
        expect(tokens.length).toBeGreaterThan(0);
        expect(model.detokenize(tokens)).toBe(text);
        expect(model.tokenize("<|im_start|>", true)).toEqual([151644]);
        expect(model.tokenize("<|im_end|>", true)).toEqual([151645]);
        // without special tokens the same text is plain text
        expect(model.tokenize("<|im_start|>", false)).not.toContain(151644);
        expect(model.tokenizer.isEogToken(151645 as never)).toBe(true);

        expect(resolveChatWrapper(model)).toBeInstanceOf(ChatMLChatWrapper);

        const context = await model.createContext({ contextSize: 512, threads: 1 });
        try {
          const session = new LlamaChatSession({ contextSequence: context.getSequence() });
          expect(session.chatWrapper).toBeInstanceOf(ChatMLChatWrapper);
          const answer = await session.prompt(text, { maxTokens: 8 });
          expect(typeof answer).toBe("string");
          session.dispose();
        } finally {
          await context.dispose();
        }
      } finally {
        await model.dispose();
      }
    } finally {
      await llama.dispose();
    }
  });
});
