/** Small statistics for the benchmark report. */

/** The p-th percentile (0–100) by linear interpolation; NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

export function round(value: number, digits: number): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Milliseconds since the epoch, fractional. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Aggregate decode rate while every stream is generating: tokens produced between the moment the
 * last stream got its first token and the moment the first stream got its last one, per second.
 * This is the N-way decode throughput (what llama-batched-bench calls S_TG), free of prompt
 * evaluation and of staggered starts and ends. NaN when that window is empty.
 */
export function steadyDecodeRate(streams: readonly (readonly number[])[]): number {
  if (streams.length === 0 || streams.some((s) => s.length < 2)) return NaN;
  const from = Math.max(...streams.map((s) => s[0]!));
  const to = Math.min(...streams.map((s) => s.at(-1)!));
  if (!(to > from)) return NaN;
  let tokens = 0;
  for (const s of streams) for (const t of s) if (t > from && t <= to) tokens++;
  return (tokens / (to - from)) * 1000;
}
