/** The GGUF writer's number encodings: F16 (bit-exact, round to nearest even) and Q8_0 blocks. Helpers: ggufTestKit.ts. */
import { describe, expect, it } from "vitest";
import { decodeF16, decodeQ8_0, encodeF16, encodeQ8_0, f16BitsToF32, f32ToF16Bits } from "../../tools/gguf/GgufWriter.ts";
import { sampleVector } from "./ggufTestKit.ts";

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
