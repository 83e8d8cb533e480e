/**
 * The ggml tensor types this writer can encode (F32, F16, Q8_0): their ids, the bytes a tensor of
 * each takes, and the encoding of a chunk of float values into each.
 *
 * Why its own module: adding a tensor type means touching only this file (and an encoder beside it).
 */
import { encodeF16 } from "./halfFloat.ts";
import { encodeQ8_0, Q8_0_BLOCK_BYTES, Q8_0_BLOCK_SIZE } from "./q8_0.ts";

/** ggml tensor type ids this writer can encode. */
export const GGML_TYPE = { F32: 0, F16: 1, Q8_0: 8 } as const;
export type GgmlTypeName = keyof typeof GGML_TYPE;

/** Number of elements of a tensor with these dims. */
export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Size in bytes of a tensor's data (without alignment padding). */
export function tensorDataBytes(dims: readonly number[], type: GgmlTypeName): number {
  const n = elementCount(dims);
  switch (type) {
    case "F32":
      return n * 4;
    case "F16":
      return n * 2;
    case "Q8_0":
      return (n / Q8_0_BLOCK_SIZE) * Q8_0_BLOCK_BYTES;
  }
}

/**
 * Encodes `vals` as `type` into the start of `out` (at least `vals.length * 4` bytes) and returns
 * the number of bytes written. For Q8_0, `vals.length` must be whole blocks.
 */
export function encodeTensorChunk(type: GgmlTypeName, vals: Float32Array, out: Buffer): number {
  const len = vals.length;
  switch (type) {
    case "F32":
      new Float32Array(out.buffer, out.byteOffset, len).set(vals);
      return len * 4;
    case "F16":
      encodeF16(vals, new Uint16Array(out.buffer, out.byteOffset, len));
      return len * 2;
    case "Q8_0":
      if (len % Q8_0_BLOCK_SIZE !== 0) throw new Error("unreachable: Q8_0 chunk not whole blocks");
      encodeQ8_0(vals, out);
      return (len / Q8_0_BLOCK_SIZE) * Q8_0_BLOCK_BYTES;
  }
}
