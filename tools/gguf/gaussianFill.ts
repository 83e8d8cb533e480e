/**
 * Deterministic random weights for the test models: a seeded Gaussian per tensor, the same
 * values whatever the chunking, fast enough for the 494M weights of the 0.5B shape.
 *
 * Why its own module: the weights are drawn the same way for every test model (whatever its
 * chat template), and the drawing is the one part that must never change by accident (cached
 * files are checked by header and size only; see TEST_MODEL_GENERATOR_VERSION).
 */
import type { TensorFill } from "./GgufWriter.ts";

/**
 * Inverse normal CDF (Acklam's rational approximation, relative error < 1.2e-9).
 */
function normalQuantile(p: number): number {
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
    );
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
}

/**
 * 65,536 equiprobable standard normal values (the quantiles at (i + 0.5) / 65536). Indexing
 * it with 16 random bits draws from a Gaussian discretized to 65,536 levels (tails cut at
 * ±4.3σ): plenty for random weights, and ~10× faster than Box-Muller, which matters for the
 * 494M weights of the 0.5B shape.
 */
let gaussianTable: Float32Array | undefined;
function getGaussianTable(): Float32Array {
  if (!gaussianTable) {
    const t = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) t[i] = normalQuantile((i + 0.5) / 65536);
    gaussianTable = t;
  }
  return gaussianTable;
}

/** FNV-1a of a string, then mixed with the seed: one independent stream per tensor. */
function streamSeed(seed: number, name: string): number {
  const hi = Math.floor(seed / 0x100000000) | 0;
  let h = 0x811c9dc5 ^ Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(hi, 0x7feb352d);
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h | 0;
}

/**
 * A fill callback producing N(0, σ²) values from a mulberry32 stream seeded by (seed, name).
 * Deterministic for a seed and name, whatever the chunking.
 */
export function gaussianFill(seed: number, name: string, sigma: number): TensorFill {
  const table = getGaussianTable();
  let state = streamSeed(seed, name);
  let spare = 0;
  let hasSpare = false;
  let next = 0;
  return (out, start) => {
    if (start !== next) throw new Error(`gaussianFill("${name}"): chunks must be consecutive`);
    next = start + out.length;
    const n = out.length;
    let i = 0;
    if (hasSpare && n > 0) {
      out[i++] = spare;
      hasSpare = false;
    }
    let a = state;
    for (; i + 1 < n; i += 2) {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      t = t ^ (t >>> 14);
      out[i] = table[t & 0xffff]! * sigma;
      out[i + 1] = table[t >>> 16]! * sigma;
    }
    if (i < n) {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      t = t ^ (t >>> 14);
      out[i] = table[t & 0xffff]! * sigma;
      spare = table[t >>> 16]! * sigma;
      hasSpare = true;
    }
    state = a;
  };
}

export function constantFill(value: number): TensorFill {
  return (out) => {
    out.fill(value);
  };
}
