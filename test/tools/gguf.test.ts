import { createHash } from "node:crypto";
import { mkdtemp, open, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GGMLQuantizationType, GGUFValueType, gguf } from "@huggingface/gguf";
import { ChatMLChatWrapper, getLlama, LlamaChatSession, LlamaLogLevel, resolveChatWrapper } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultTestModelPath, ensureTestModel } from "../../tools/gguf/ensureTestModel.ts";
import { decodeF16, decodeQ8_0, encodeF16, encodeQ8_0, f16BitsToF32, f32ToF16Bits, GgufWriter, gv } from "../../tools/gguf/GgufWriter.ts";
import {
  gaussianFill,
  makeTestModel,
  planQwen2Tensors,
  QWEN2_INSTRUCT_CHAT_TEMPLATE,
  TEST_MODEL_GENERATOR_VERSION,
  TEST_MODEL_SHAPES,
  testModelByteSize,
} from "../../tools/gguf/qwen2TestModel.ts";
import { tinyModelPath } from "../helpers/tinyModel.ts";

const SLOW = 120_000;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "qwenbot-gguf-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function sha256(path: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
}

async function readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, offset);
    expect(bytesRead).toBe(length);
    return new Uint8Array(buf.buffer, buf.byteOffset, length);
  } finally {
    await fh.close();
  }
}

/** A deterministic vector with a spread of magnitudes and signs. */
function sampleVector(n: number): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = Math.sin(i * 1.7 + 0.3) * (1 + (i % 7)) * 0.37;
  return v;
}

describe("F16 encoding", () => {
  it("encodes known values bit-exactly (round to nearest even)", () => {
    expect(f32ToF16Bits(0)).toBe(0x0000);
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(0.1)).toBe(0x2e66);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // rounds up to infinity
    expect(f32ToF16Bits(Infinity)).toBe(0x7c00);
    expect(f32ToF16Bits(-Infinity)).toBe(0xfc00);
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // tie → even (zero)
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(0x0002); // tie → even (2)
    expect(f32ToF16Bits(2 ** -14)).toBe(0x0400); // smallest normal
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even
    const nan = f32ToF16Bits(NaN);
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x3ff).not.toBe(0);
    expect(Number.isNaN(f16BitsToF32(nan))).toBe(true);
  });

  it("round-trips a vector within half-precision tolerance", () => {
    const v = sampleVector(1000);
    const bits = new Uint16Array(v.length);
    encodeF16(v, bits);
    const back = decodeF16(bits);
    for (let i = 0; i < v.length; i++) {
      expect(Math.abs(back[i]! - v[i]!)).toBeLessThanOrEqual(Math.abs(v[i]!) * 2 ** -11 + 2 ** -25);
    }
    // every f16 value survives f16 → f32 → f16 exactly
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) continue; // NaNs
      expect(f32ToF16Bits(f16BitsToF32(h))).toBe(h);
    }
  });
});

describe("Q8_0 encoding", () => {
  it("writes 34-byte blocks: f16 scale max|x|/127, then round(x / d) as int8", () => {
    const v = new Float32Array(64);
    for (let i = 0; i < 32; i++) v[i] = (i - 16) / 16; // max |x| = 1 (at i = 0)
    // second block stays all zero
    const out = new Uint8Array(68);
    encodeQ8_0(v, out);
    const d = 1 / 127;
    expect(out[0]! | (out[1]! << 8)).toBe(f32ToF16Bits(d));
    const q = new Int8Array(out.buffer, 2, 32);
    expect(q[0]).toBe(-127);
    expect(q[16]).toBe(0);
    expect(q[24]).toBe(Math.round(0.5 * 127)); // 64 (63.5 rounds away from zero)
    expect(q[8]).toBe(-64);
    expect([...out.subarray(34)]).toEqual(new Array(34).fill(0));
  });

  it("round-trips a vector within half a quantization step", () => {
    const v = sampleVector(32 * 10);
    const out = new Uint8Array(34 * 10);
    encodeQ8_0(v, out);
    const back = decodeQ8_0(out, v.length);
    for (let b = 0; b < 10; b++) {
      let amax = 0;
      for (let i = b * 32; i < b * 32 + 32; i++) amax = Math.max(amax, Math.abs(v[i]!));
      const d = amax / 127;
      for (let i = b * 32; i < b * 32 + 32; i++) {
        // half a step, plus the f16 rounding of the scale (≤ 127 · d · 2^-11)
        expect(Math.abs(back[i]! - v[i]!)).toBeLessThanOrEqual(0.5 * d + 127 * d * 2 ** -11 + 1e-9);
      }
    }
  });

  it("rejects a length that is not whole blocks", () => {
    expect(() => encodeQ8_0(new Float32Array(33), new Uint8Array(68))).toThrow(RangeError);
  });
});

describe("GgufWriter", () => {
  function buildSample(): GgufWriter {
    const q8 = sampleVector(64 * 2);
    const f16 = sampleVector(32);
    return new GgufWriter()
      .setMetadata("general.architecture", gv.string("sample"))
      .setMetadata("t.u32", gv.u32(4000000000))
      .setMetadata("t.i32", gv.i32(-7))
      .setMetadata("t.f32", gv.f32(0.5))
      .setMetadata("t.bool", gv.bool(true))
      .setMetadata("t.u64", gv.u64(1n << 40n))
      .setMetadata("t.string", gv.string("héllo 你好"))
      .setMetadata("t.strings", gv.array("string", ["a b", "", "ĠĠ"]))
      .setMetadata("t.i32s", gv.array("i32", new Int32Array([1, -2, 3])))
      .setMetadata("t.f32s", gv.array("f32", [0.25, -1.5]))
      .addTensor({
        name: "a.f32",
        dims: [3, 2],
        type: "F32",
        fill: (out, start) => {
          for (let i = 0; i < out.length; i++) out[i] = start + i;
        },
      })
      .addTensor({ name: "b.f16", dims: [32], type: "F16", fill: (out, s) => out.set(f16.subarray(s, s + out.length)) })
      .addTensor({ name: "c.q8", dims: [64, 2], type: "Q8_0", fill: (out, s) => out.set(q8.subarray(s, s + out.length)) });
  }

  it("writes a file @huggingface/gguf parses, with aligned tensor data that decodes back", async () => {
    const path = join(dir, "sample.gguf");
    const writer = buildSample();
    const expectedSize = writer.fileSize();
    const result = await writer.write(path);
    expect(result.bytes).toBe(expectedSize);
    expect((await stat(path)).size).toBe(expectedSize);

    const parsed = await gguf(path, { allowLocalFile: true, typedMetadata: true });
    const md = parsed.metadata as unknown as Record<string, unknown>;
    expect(md.version).toBe(3);
    expect(md.tensor_count).toBe(3n);
    expect(md.kv_count).toBe(10n);
    expect(md["general.architecture"]).toBe("sample");
    expect(md["t.u32"]).toBe(4000000000);
    expect(md["t.i32"]).toBe(-7);
    expect(md["t.f32"]).toBe(0.5);
    expect(md["t.bool"]).toBe(true);
    expect(md["t.u64"]).toBe(1n << 40n);
    expect(md["t.string"]).toBe("héllo 你好");
    expect(md["t.strings"]).toEqual(["a b", "", "ĠĠ"]);
    expect(md["t.i32s"]).toEqual([1, -2, 3]);
    expect(md["t.f32s"]).toEqual([0.25, -1.5]);
    const typed = parsed.typedMetadata as Record<string, { type: number; subType?: number }>;
    expect(typed["t.u32"]!.type).toBe(GGUFValueType.UINT32);
    expect(typed["t.i32"]!.type).toBe(GGUFValueType.INT32);
    expect(typed["t.f32"]!.type).toBe(GGUFValueType.FLOAT32);
    expect(typed["t.bool"]!.type).toBe(GGUFValueType.BOOL);
    expect(typed["t.u64"]!.type).toBe(GGUFValueType.UINT64);
    expect(typed["t.strings"]).toMatchObject({ type: GGUFValueType.ARRAY, subType: GGUFValueType.STRING });
    expect(typed["t.i32s"]).toMatchObject({ type: GGUFValueType.ARRAY, subType: GGUFValueType.INT32 });
    expect(typed["t.f32s"]).toMatchObject({ type: GGUFValueType.ARRAY, subType: GGUFValueType.FLOAT32 });

    expect(parsed.tensorDataOffset).toBe(BigInt(result.dataOffset));
    expect(Number(parsed.tensorDataOffset) % 32).toBe(0);
    expect(parsed.tensorInfos.map((t) => [t.name, t.shape, t.dtype])).toEqual([
      ["a.f32", [3n, 2n], GGMLQuantizationType.F32],
      ["b.f16", [32n], GGMLQuantizationType.F16],
      ["c.q8", [64n, 2n], GGMLQuantizationType.Q8_0],
    ]);
    const [a, b, c] = parsed.tensorInfos;
    expect([a!.offset, b!.offset, c!.offset]).toEqual([0n, 32n, 96n]); // 24 → 32, 64 → 96
    const base = result.dataOffset;

    const aBytes = await readRange(path, base + Number(a!.offset), 24);
    expect([...new Float32Array(aBytes.slice().buffer)]).toEqual([0, 1, 2, 3, 4, 5]);

    const bBytes = await readRange(path, base + Number(b!.offset), 64);
    const bBack = decodeF16(new Uint16Array(bBytes.slice().buffer));
    const f16 = sampleVector(32);
    for (let i = 0; i < 32; i++) expect(bBack[i]).toBeCloseTo(f16[i]!, 2);

    const cBytes = await readRange(path, base + Number(c!.offset), 4 * 34);
    const cBack = decodeQ8_0(cBytes, 128);
    const q8 = sampleVector(128);
    for (let i = 0; i < 128; i++) expect(Math.abs(cBack[i]! - q8[i]!)).toBeLessThan(0.02);
    expect(result.bytes).toBe(base + 96 + 4 * 34 + 24); // last tensor padded to 32 too
  });

  it("writes the same bytes whatever the chunk size", async () => {
    const p1 = join(dir, "chunk-default.gguf");
    const p2 = join(dir, "chunk-32.gguf");
    await buildSample().write(p1);
    await buildSample().write(p2, { chunkElements: 32 });
    expect(await sha256(p2)).toBe(await sha256(p1));
  });

  it("rejects Q8_0 rows that are not whole blocks, and duplicate names", () => {
    const fill = (): void => undefined;
    expect(() => new GgufWriter().addTensor({ name: "x", dims: [48, 2], type: "Q8_0", fill })).toThrow(/multiple of 32/);
    const w = new GgufWriter().addTensor({ name: "x", dims: [4], type: "F32", fill });
    expect(() => w.addTensor({ name: "x", dims: [4], type: "F32", fill })).toThrow(/twice/);
  });
});

describe("seeded Gaussian weights", () => {
  it("give the same stream however they are chunked, σ ≈ 0.02, and differ by seed and name", () => {
    const n = 100_001;
    const whole = new Float32Array(n);
    gaussianFill(1, "t", 0.02)(whole, 0);
    const pieces = new Float32Array(n);
    const fill = gaussianFill(1, "t", 0.02);
    for (let s = 0, k = 1; s < n; s += k, k = (k * 7 + 3) % 1000 || 1) {
      fill(pieces.subarray(s, Math.min(n, s + k)), s);
    }
    expect(pieces).toEqual(whole);
    let sum = 0;
    let sq = 0;
    for (const x of whole) {
      sum += x;
      sq += x * x;
    }
    const mean = sum / n;
    expect(Math.abs(mean)).toBeLessThan(0.001);
    expect(Math.sqrt(sq / n - mean * mean)).toBeCloseTo(0.02, 3);
    const other = new Float32Array(16);
    gaussianFill(2, "t", 0.02)(other, 0);
    expect(other).not.toEqual(whole.subarray(0, 16));
    gaussianFill(1, "u", 0.02)(other, 0);
    expect(other).not.toEqual(whole.subarray(0, 16));
  });
});

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
    const a = await makeTestModel({ shape: "tiny", type: "q8_0", seed: 7, out: join(dir, "a.gguf") });
    const b = await makeTestModel({ shape: "tiny", type: "q8_0", seed: 7, out: join(dir, "b.gguf") });
    const c = await makeTestModel({ shape: "tiny", type: "q8_0", seed: 8, out: join(dir, "c.gguf") });
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

    const f16 = await makeTestModel({ shape: "tiny", type: "f16", seed: 7, out: join(dir, "h.gguf") });
    const ph = await gguf(f16.path, { allowLocalFile: true });
    expect((ph.metadata as unknown as Record<string, unknown>)["general.file_type"]).toBe(1);
    expect(ph.tensorInfos.find((t) => t.name === "blk.1.ffn_up.weight")!.dtype).toBe(GGMLQuantizationType.F16);
    expect(ph.tensorInfos.find((t) => t.name === "blk.1.ffn_norm.weight")!.dtype).toBe(GGMLQuantizationType.F32);
  });

  it("ensureTestModel is safe to call concurrently and replaces a wrong-sized or stale file", { timeout: SLOW }, async () => {
    const sub = await mkdtemp(join(dir, "ensure-"));
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
