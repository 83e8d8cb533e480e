/**
 * ggml's Q8_0 quantization: blocks of 32 weights, each an f16 scale and 32 int8 quants, encoded
 * exactly as ggml's reference quantizer does (so a test model quantizes as llama.cpp's would).
 */
import { f16BitsToF32, f32ToF16Bits } from "./halfFloat.ts";

export const Q8_0_BLOCK_SIZE = 32;
/** Bytes per Q8_0 block: an f16 scale and 32 int8 quants. */
export const Q8_0_BLOCK_BYTES = 34;

/**
 * Encodes `src` (length a multiple of 32) as Q8_0 blocks into `dst`
 * (`src.length / 32 * 34` bytes): per block an f16 scale d = max|x| / 127 (little endian),
 * then 32 int8 quants round(x / d).
 */
export function encodeQ8_0(src: Float32Array, dst: Uint8Array): void {
  const n = src.length;
  if (n % Q8_0_BLOCK_SIZE !== 0) throw new RangeError("encodeQ8_0: length must be a multiple of 32");
  const blocks = n / Q8_0_BLOCK_SIZE;
  if (dst.length < blocks * Q8_0_BLOCK_BYTES) throw new RangeError("encodeQ8_0: destination too short");
  const q = new Int8Array(dst.buffer, dst.byteOffset, dst.length);
  let o = 0;
  for (let b = 0, i0 = 0; b < blocks; b++, i0 += Q8_0_BLOCK_SIZE) {
    let amax = 0;
    for (let i = i0; i < i0 + Q8_0_BLOCK_SIZE; i++) {
      const a = Math.abs(src[i]!);
      if (a > amax) amax = a;
    }
    const d = amax / 127;
    const id = d !== 0 ? 1 / d : 0;
    const dh = f32ToF16Bits(d);
    dst[o] = dh & 0xff;
    dst[o + 1] = dh >>> 8;
    o += 2;
    for (let i = i0; i < i0 + Q8_0_BLOCK_SIZE; i++) {
      // round half away from zero, as ggml's roundf
      const v = src[i]! * id;
      q[o++] = v >= 0 ? Math.floor(v + 0.5) : -Math.floor(-v + 0.5);
    }
  }
}

/** Decodes `count` values (a multiple of 32) from Q8_0 blocks. */
export function decodeQ8_0(src: Uint8Array, count: number): Float32Array {
  if (count % Q8_0_BLOCK_SIZE !== 0) throw new RangeError("decodeQ8_0: count must be a multiple of 32");
  const q = new Int8Array(src.buffer, src.byteOffset, src.length);
  const out = new Float32Array(count);
  let o = 0;
  for (let i = 0; i < count; i += Q8_0_BLOCK_SIZE) {
    const d = f16BitsToF32(src[o]! | (src[o + 1]! << 8));
    o += 2;
    for (let j = 0; j < Q8_0_BLOCK_SIZE; j++) out[i + j] = d * q[o++]!;
  }
  return out;
}
