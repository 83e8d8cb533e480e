/**
 * GgufWriter: files @huggingface/gguf parses, aligned tensor data that decodes back, the same
 * bytes whatever the chunk size; and the seeded Gaussian weights. Shared helpers: ggufTestKit.ts.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { GGMLQuantizationType, GGUFValueType, gguf } from "@huggingface/gguf";
import { describe, expect, it } from "vitest";
import { decodeF16, decodeQ8_0, GgufWriter, gv } from "../../tools/gguf/GgufWriter.ts";
import { gaussianFill } from "../../tools/gguf/qwen2TestModel.ts";
import { readRange, sampleVector, sha256, useTempDir } from "./ggufTestKit.ts";

const dir = useTempDir();

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
    const path = join(dir(), "sample.gguf");
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
    const p1 = join(dir(), "chunk-default.gguf");
    const p2 = join(dir(), "chunk-32.gguf");
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
