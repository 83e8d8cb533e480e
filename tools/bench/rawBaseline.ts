/**
 * The bare-library baseline: one context (built with the worker's own context options), N
 * sequences, each fed its prompt tokens and generating exactly `tokens` tokens with
 * `sequence.evaluate` — nothing of the bot in between.
 *
 * - "independent": one `for await` loop per sequence, the way the library is first used;
 * - "lockstep": every sequence's next token is requested at the same moment (diagnostic: shows
 *   what batching alone gives back).
 */
import type { LlamaModel, Token } from "node-llama-cpp";
import { type ContextSettings, contextOptions } from "../../workers/inference/loadModel.ts";
import { BatchProfiler } from "./batchProfiler.ts";
import { nowMs, steadyDecodeRate } from "./stats.ts";

export type RawDrive = "independent" | "lockstep";

export interface RawRunOptions {
  model: LlamaModel;
  settings: ContextSettings;
  prompts: readonly Token[][];
  /** Tokens generated per sequence (end-of-generation tokens count and do not stop it). */
  tokens: number;
  temperature: number;
  topK: number;
  drive: RawDrive;
  profile?: boolean;
}

export interface RawRunResult {
  generated: number;
  wallMs: number;
  tokensPerS: number;
  ttftMs: number[];
  /** Per sequence, when each token came out (ms since the epoch). */
  tokenTimes: number[][];
  /** Decode rate while all sequences generate (see steadyDecodeRate). */
  decodeTokensPerS: number;
  profiler?: BatchProfiler;
}

export async function runRawBaseline(o: RawRunOptions): Promise<RawRunResult> {
  const context = await o.model.createContext(contextOptions(o.settings));
  const profiler = o.profile ? new BatchProfiler() : undefined;
  if (profiler && !profiler.attach(context)) throw new Error("profiling is not available with this node-llama-cpp");
  try {
    const sequences = o.prompts.map(() => context.getSequence());
    const options = { temperature: o.temperature, topK: o.topK, yieldEogToken: true } as const;
    const ttftMs: number[] = [];
    const tokenTimes: number[][] = sequences.map(() => []);
    let generated = 0;
    const started = nowMs();
    if (o.drive === "independent") {
      await Promise.all(
        sequences.map(async (sequence, i) => {
          let n = 0;
          for await (const _token of sequence.evaluate([...o.prompts[i]!], options)) {
            const at = nowMs();
            if (n === 0) ttftMs[i] = at - started;
            tokenTimes[i]!.push(at);
            n++;
            generated++;
            if (n >= o.tokens) break;
          }
        }),
      );
    } else {
      const iterators = sequences.map((sequence, i) => sequence.evaluate([...o.prompts[i]!], options));
      const counts = iterators.map(() => 0);
      let live = iterators.map((_, i) => i);
      while (live.length > 0) {
        const steps = await Promise.all(live.map((i) => iterators[i]!.next()));
        const next: number[] = [];
        const at = nowMs();
        steps.forEach((step, k) => {
          const i = live[k]!;
          if (step.done) return;
          if (counts[i] === 0) ttftMs[i] = at - started;
          tokenTimes[i]!.push(at);
          counts[i]!++;
          generated++;
          if (counts[i]! < o.tokens) next.push(i);
        });
        for (const i of live) if (!next.includes(i)) await iterators[i]!.return();
        live = next;
      }
    }
    const wallMs = nowMs() - started;
    return {
      generated,
      wallMs,
      tokensPerS: (generated / wallMs) * 1000,
      ttftMs,
      tokenTimes,
      decodeTokensPerS: steadyDecodeRate(tokenTimes),
      profiler,
    };
  } finally {
    profiler?.detach();
    await context.dispose();
  }
}
