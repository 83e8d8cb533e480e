/** The benchmark's printed table and its JSON (the shape). */
import path from "node:path";
import type { BotRound } from "./BotBench.ts";
import type { BatchProfiler } from "./batchProfiler.ts";
import type { PeerRun } from "./peerBench.ts";
import type { RawRunResult } from "./rawBaseline.ts";
import { percentile, round } from "./stats.ts";

export interface BenchRun {
  concurrency: number;
  promptTokens: number;
  raw: RawRunResult;
  /** The bare baseline driven in lockstep (diagnostic). */
  lockstep?: RawRunResult;
  bot: BotRound;
  botProfile?: BatchProfiler;
  /** llama-batched-bench on the same model and settings (`--peer`). */
  peer?: PeerRun;
}

export interface BenchReport {
  modelPath: string;
  modelBytes: number;
  threads: number;
  gpu: string;
  contextSize: number;
  sequences: number;
  tokens: number;
  quick: boolean;
  runs: BenchRun[];
  followup?: {
    historyTokens: number;
    coldTtftMs: number;
    warmTtftMs: number;
    /** [cold, warm] prompt tokens actually evaluated, per repetition. */
    evaluated: Array<[number, number]>;
  };
  elapsedS: number;
}

export interface BenchJson {
  model: Record<string, unknown>;
  threads: number;
  gpu: string;
  runs: Array<{
    concurrency: number;
    raw_tokens_per_s: number;
    bot_tokens_per_s: number;
    ratio: number;
    ttft_p50_ms: number;
    ttft_p95_ms: number;
    queue_overhead_p50_ms: number;
    /** Generated tokens/s while all N replies decode (no prompt evaluation). */
    raw_decode_tokens_per_s: number;
    bot_decode_tokens_per_s: number;
    /** llama-batched-bench's S_TG at this N (`--peer`), and the bot's decode rate over it. */
    peer_decode_tokens_per_s: number | null;
    bot_vs_peer_decode: number | null;
  }>;
  followup: { history_tokens: number; cold_ttft_ms: number; warm_ttft_ms: number; speedup: number } | null;
}

function pad(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [pad(header, widths), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map((r) => pad(r, widths))].join("\n");
}

const f = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : "–");

export function formatReport(r: BenchReport): { table: string; json: BenchJson } {
  const json: BenchJson = {
    model: {
      file: path.basename(r.modelPath),
      bytes: r.modelBytes,
      context_size: r.contextSize,
      sequences: r.sequences,
      tokens_per_reply: r.tokens,
      quick: r.quick,
    },
    threads: r.threads,
    gpu: r.gpu,
    runs: r.runs.map((run) => {
      const ttft = run.bot.replies.map((x) => x.ttftMs);
      const queue = run.bot.replies.map((x) => x.queueMs);
      return {
        concurrency: run.concurrency,
        raw_tokens_per_s: round(run.raw.tokensPerS, 2),
        bot_tokens_per_s: round(run.bot.tokensPerS, 2),
        ratio: round(run.bot.tokensPerS / run.raw.tokensPerS, 3),
        ttft_p50_ms: round(percentile(ttft, 50), 1),
        ttft_p95_ms: round(percentile(ttft, 95), 1),
        queue_overhead_p50_ms: round(percentile(queue, 50), 1),
        raw_decode_tokens_per_s: round(run.raw.decodeTokensPerS, 2),
        bot_decode_tokens_per_s: round(run.bot.decodeTokensPerS, 2),
        peer_decode_tokens_per_s: run.peer ? round(run.peer.decodeTokensPerS, 2) : null,
        bot_vs_peer_decode: run.peer ? round(run.bot.decodeTokensPerS / run.peer.decodeTokensPerS, 3) : null,
      };
    }),
    followup: r.followup
      ? {
          history_tokens: r.followup.historyTokens,
          cold_ttft_ms: round(r.followup.coldTtftMs, 1),
          warm_ttft_ms: round(r.followup.warmTtftMs, 1),
          speedup: round(r.followup.coldTtftMs / r.followup.warmTtftMs, 2),
        }
      : null,
  };

  const lines: string[] = [];
  lines.push(
    `model ${path.basename(r.modelPath)} (${(r.modelBytes / 1e6).toFixed(0)} MB) · threads ${r.threads} · gpu ${r.gpu} · ` +
      `${r.sequences} sequences × ${r.contextSize} tokens · ${r.tokens} tokens per reply${r.quick ? " · quick" : ""}`,
  );
  lines.push("");
  const showLockstep = r.runs.some((x) => x.lockstep);
  const showPeer = r.runs.some((x) => x.peer);
  const header = [
    "N",
    "prompt",
    "raw tok/s",
    ...(showLockstep ? ["raw lockstep"] : []),
    "bot tok/s",
    "ratio",
    "raw decode",
    "bot decode",
    ...(showPeer ? ["llama.cpp S_TG", "bot ÷ S_TG"] : []),
    "TTFT p50",
    "TTFT p95",
    "queue p50",
  ];
  const rows = r.runs.map((run, i) => {
    const j = json.runs[i]!;
    return [
      String(run.concurrency),
      String(run.promptTokens),
      f(j.raw_tokens_per_s),
      ...(showLockstep ? [run.lockstep ? f(run.lockstep.tokensPerS) : "–"] : []),
      f(j.bot_tokens_per_s),
      f(j.ratio, 3),
      f(run.raw.decodeTokensPerS),
      f(run.bot.decodeTokensPerS),
      ...(showPeer ? [f(j.peer_decode_tokens_per_s ?? Number.NaN), f(j.bot_vs_peer_decode ?? Number.NaN, 3)] : []),
      `${f(j.ttft_p50_ms, 0)} ms`,
      `${f(j.ttft_p95_ms, 0)} ms`,
      `${f(j.queue_overhead_p50_ms, 1)} ms`,
    ];
  });
  lines.push(table(header, rows));
  lines.push(
    "tok/s: generated tokens over the whole run (prompts included; bot: first enqueue → last reply's final edit). " +
      "decode: tokens/s while all N replies generate (no prompt evaluation), comparable to llama-batched-bench's S_TG.",
  );
  if (json.followup && r.followup) {
    lines.push("");
    const ev = r.followup.evaluated.map(([c, w]) => `${c}→${w}`).join(", ");
    lines.push(
      `follow-up (${json.followup.history_tokens}-token prompt): cold TTFT ${f(json.followup.cold_ttft_ms, 0)} ms, ` +
        `warm ${f(json.followup.warm_ttft_ms, 0)} ms, speedup ${f(json.followup.speedup, 1)}× (prompt tokens evaluated cold→warm: ${ev})`,
    );
  }
  const profiled = r.runs.filter((x) => x.raw.profiler || x.lockstep?.profiler || x.botProfile);
  if (profiled.length > 0) {
    lines.push("");
    lines.push("profile (batches: size×count; decode = time inside llama.cpp decode; sampling summed over sequences):");
    for (const run of profiled) {
      for (const [name, p, wallMs] of [
        ["raw", run.raw.profiler, run.raw.wallMs],
        ["lockstep", run.lockstep?.profiler, run.lockstep?.wallMs ?? 0],
        ["bot", run.botProfile, run.bot.wallMs],
      ] as const) {
        if (!p) continue;
        if (name === "bot") {
          const pick = run.bot.replies;
          const pickup = pick.map((x) => x.result.startedAt - x.enqueuedAt);
          const prep = pick.map((x) => x.result.evaluationStartedAt - x.result.startedAt);
          lines.push(
            `  N=${run.concurrency} bot queue: ingest p50 ${f(
              percentile(
                pick.map((x) => x.ingestMs),
                50,
              ),
            )} ms, ` +
              `enqueue → generate() p50 ${f(percentile(pickup, 50))} ms (Redis, BullMQ, ChatWorker), ` +
              `generate() → evaluation p50 ${f(percentile(prep, 50))} ms (sequence, prompt); ` +
              `each: ${[...pickup]
                .sort((a, b) => a - b)
                .map((x) => f(x, 0))
                .join(" ")} ms`,
          );
        }
        const { batches, decodeMs, sampleMs } = p.profile;
        lines.push(
          `  N=${run.concurrency} ${name.padEnd(8)} ${String(batches).padStart(5)} batches, decode ${f(decodeMs / 1000, 1)} s of ${f(wallMs / 1000, 1)} s ` +
            `(${f((100 * decodeMs) / wallMs, 0)}%), sampling ${f(sampleMs / 1000, 2)} s · ${p.histogram()}`,
        );
      }
    }
  }
  const first = json.runs.find((x) => x.concurrency === 1);
  const top = json.runs.reduce<(typeof json.runs)[number] | undefined>((a, b) => (!a || b.concurrency > a.concurrency ? b : a), undefined);
  lines.push("");
  lines.push("targets:");
  const check = (ok: boolean, text: string) => lines.push(`  ${ok ? "✓" : "✗"} ${text}`);
  const minRatio = Math.min(...json.runs.map((x) => x.ratio));
  check(minRatio >= 0.95, `ratio ≥ 0.95 at every N (lowest ${f(minRatio, 3)})`);
  if (json.followup) check(json.followup.speedup >= 5, `follow-up speedup ≥ 5 (${f(json.followup.speedup, 1)}×)`);
  const maxQueue = Math.max(...json.runs.map((x) => x.queue_overhead_p50_ms));
  check(maxQueue <= 20, `queue overhead p50 ≤ 20 ms (highest ${f(maxQueue, 1)} ms)`);
  if (first && top && top !== first) {
    const scale = top.bot_tokens_per_s / first.bot_tokens_per_s;
    check(scale >= 1.8, `bot tokens/s at N=${top.concurrency} ≥ 1.8 × N=1 (${f(scale, 2)}×)`);
    const runFirst = r.runs.find((x) => x.concurrency === first.concurrency)!;
    const runTop = r.runs.find((x) => x.concurrency === top.concurrency)!;
    const decodeScale = runTop.bot.decodeTokensPerS / runFirst.bot.decodeTokensPerS;
    check(decodeScale >= 1.8, `bot decode tokens/s at N=${top.concurrency} ≥ 1.8 × N=1 (${f(decodeScale, 2)}×)`);
  }
  if (showPeer) {
    const peerRatios = json.runs.map((x) => x.bot_vs_peer_decode).filter((x): x is number => x !== null);
    check(Math.min(...peerRatios) >= 1.0, `bot decode ≥ 1.0 × llama.cpp S_TG at every N (lowest ${f(Math.min(...peerRatios), 3)})`);
  }
  lines.push(`(${f(r.elapsedS, 0)} s)`);
  return { table: lines.join("\n"), json };
}
