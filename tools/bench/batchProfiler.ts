/**
 * Diagnostics only (`npm run bench -- --profile`): counts the batches a context decodes, their
 * sizes and the time spent inside llama.cpp's decode, by wrapping the context's native handle.
 * That handle is a private field of node-llama-cpp 3.x (`LlamaContext._ctx`); when it is not
 * there, profiling is simply unavailable.
 */
import type { LlamaContext } from "node-llama-cpp";

export interface BatchProfile {
  batches: number;
  /** Tokens per batch → how many batches had that size. */
  sizes: Map<number, number>;
  decodeMs: number;
  /** Time spent sampling (after a decode, before the batch's results are handed back). */
  sampleMs: number;
}

interface NativeContext {
  initBatch(size: number): unknown;
  decodeBatch(): Promise<unknown>;
  sampleToken(...args: unknown[]): Promise<unknown>;
}

export class BatchProfiler {
  readonly profile: BatchProfile = { batches: 0, sizes: new Map(), decodeMs: 0, sampleMs: 0 };
  private restore: (() => void) | undefined;

  /** Start recording `context`'s batches; false when the private handle is not found. */
  attach(context: LlamaContext): boolean {
    const holder = context as unknown as { _ctx?: NativeContext };
    const real = holder._ctx;
    if (!real || typeof real.decodeBatch !== "function" || typeof real.initBatch !== "function") return false;
    const p = this.profile;
    holder._ctx = new Proxy(real, {
      get(target, key) {
        if (key === "initBatch") {
          return (size: number) => {
            p.batches++;
            p.sizes.set(size, (p.sizes.get(size) ?? 0) + 1);
            return target.initBatch(size);
          };
        }
        if (key === "decodeBatch") {
          return async () => {
            const t = performance.now();
            try {
              return await target.decodeBatch();
            } finally {
              p.decodeMs += performance.now() - t;
            }
          };
        }
        if (key === "sampleToken") {
          return async (...args: unknown[]) => {
            const t = performance.now();
            try {
              return await target.sampleToken(...args);
            } finally {
              p.sampleMs += performance.now() - t;
            }
          };
        }
        const value = (target as unknown as Record<PropertyKey, unknown>)[key];
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    this.restore = () => {
      holder._ctx = real;
    };
    return true;
  }

  reset(): void {
    this.profile.batches = 0;
    this.profile.sizes.clear();
    this.profile.decodeMs = 0;
    this.profile.sampleMs = 0;
  }

  detach(): void {
    this.restore?.();
    this.restore = undefined;
  }

  /** `size×count` pairs, most frequent first, e.g. "8×120 7×3 1×2". */
  histogram(limit = 6): string {
    return [...this.profile.sizes]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([size, count]) => `${size}×${count}`)
      .join(" ");
  }
}
