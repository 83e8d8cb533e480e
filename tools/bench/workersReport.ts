/**
 * `npm run bench -- --workers N`: the printed table and the JSON (snake_case, as report.ts) of a
 * follow-up workload run on 1 worker process and on N.
 */
import path from "node:path";
import { percentile, round } from "./stats.ts";

/** One conversation of a phase: its first turn (cold) and its follow-up (warm). */
export interface WorkersTurn {
  conversation: string;
  coldTtftMs: number;
  warmTtftMs: number;
  /** The ChatWorker id that answered each turn (the reply state's `worker`). */
  coldWorker: string;
  warmWorker: string;
  /** Prompt tokens of the first turn. */
  promptTokens: number;
}

export interface WorkersPhase {
  workers: number;
  threadsPerWorker: number;
  sequencesPerWorker: number;
  /** Every process of the phase: its ChatWorker id and pid. */
  processes: Array<{ id: string; pid: number }>;
  turns: WorkersTurn[];
}

export interface WorkersReport {
  modelPath: string;
  modelBytes: number;
  threads: number;
  contextSize: number;
  tokens: number;
  quick: boolean;
  phases: WorkersPhase[];
  elapsedS: number;
}

export interface WorkersPhaseJson {
  workers: number;
  threads_per_worker: number;
  sequences_per_worker: number;
  conversations: number;
  cold_ttft_p50_ms: number;
  warm_ttft_p50_ms: number;
  /** cold ÷ warm (p50s). */
  speedup: number;
  /** Follow-ups answered by the worker that answered their first turn. */
  same_worker: number;
  processes: Array<{ worker_id: string; pid: number; first_turns: number; follow_ups: number }>;
  turns: Array<{ conversation: string; cold_ttft_ms: number; warm_ttft_ms: number; cold_worker: string; warm_worker: string }>;
}

export interface WorkersJson {
  mode: "workers";
  model: { file: string; bytes: number; context_size: number; tokens_per_reply: number; quick: boolean };
  threads: number;
  workers: number;
  history_tokens: number;
  phases: WorkersPhaseJson[];
  /** speedup with N workers ÷ speedup with 1 (goal: ≥ 0.8 at N = 2). */
  workers_speedup_ratio: number;
  elapsed_s: number;
}

export function phaseJson(p: WorkersPhase): WorkersPhaseJson {
  const cold = percentile(
    p.turns.map((t) => t.coldTtftMs),
    50,
  );
  const warm = percentile(
    p.turns.map((t) => t.warmTtftMs),
    50,
  );
  return {
    workers: p.workers,
    threads_per_worker: p.threadsPerWorker,
    sequences_per_worker: p.sequencesPerWorker,
    conversations: p.turns.length,
    cold_ttft_p50_ms: round(cold, 1),
    warm_ttft_p50_ms: round(warm, 1),
    speedup: round(cold / warm, 3),
    same_worker: p.turns.filter((t) => t.coldWorker === t.warmWorker).length,
    processes: p.processes.map((w) => ({
      worker_id: w.id,
      pid: w.pid,
      first_turns: p.turns.filter((t) => t.coldWorker === w.id).length,
      follow_ups: p.turns.filter((t) => t.warmWorker === w.id).length,
    })),
    turns: p.turns.map((t) => ({
      conversation: t.conversation,
      cold_ttft_ms: round(t.coldTtftMs, 1),
      warm_ttft_ms: round(t.warmTtftMs, 1),
      cold_worker: t.coldWorker,
      warm_worker: t.warmWorker,
    })),
  };
}

/** speedup(N) ÷ speedup(1), from the speedups as reported (NaN when either is missing). */
export function speedupRatio(
  one: Pick<WorkersPhaseJson, "speedup"> | undefined,
  many: Pick<WorkersPhaseJson, "speedup"> | undefined,
): number {
  if (!one || !many || !(one.speedup > 0)) return NaN;
  return round(many.speedup / one.speedup, 3);
}

const f = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : "–");

function pad(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
}

export function formatWorkersReport(r: WorkersReport): { table: string; json: WorkersJson } {
  const phases = r.phases.map(phaseJson);
  const one = phases.find((p) => p.workers === 1);
  const many = phases.find((p) => p.workers > 1) ?? one;
  const json: WorkersJson = {
    mode: "workers",
    model: {
      file: path.basename(r.modelPath),
      bytes: r.modelBytes,
      context_size: r.contextSize,
      tokens_per_reply: r.tokens,
      quick: r.quick,
    },
    threads: r.threads,
    workers: many?.workers ?? 1,
    history_tokens: Math.round(percentile(r.phases.flatMap((p) => p.turns.map((t) => t.promptTokens)).filter(Number.isFinite), 50)),
    phases,
    workers_speedup_ratio: speedupRatio(one, many),
    elapsed_s: round(r.elapsedS, 1),
  };
  const lines: string[] = [];
  lines.push(
    `model ${json.model.file} (${(r.modelBytes / 1e6).toFixed(0)} MB) · ${r.threads} threads in all · ${r.contextSize} tokens per sequence · ` +
      `${r.tokens} tokens per reply · ~${json.history_tokens}-token first prompts${r.quick ? " · quick" : ""}`,
  );
  lines.push("");
  const header = [
    "workers",
    "threads each",
    "sequences each",
    "conversations",
    "cold TTFT p50",
    "warm TTFT p50",
    "speedup",
    "same worker",
    "first turns per worker",
  ];
  const rows = phases.map((p) => [
    String(p.workers),
    String(p.threads_per_worker),
    String(p.sequences_per_worker),
    String(p.conversations),
    `${f(p.cold_ttft_p50_ms, 0)} ms`,
    `${f(p.warm_ttft_p50_ms, 0)} ms`,
    `${f(p.speedup, 2)}×`,
    `${p.same_worker}/${p.conversations}`,
    p.processes.map((w) => String(w.first_turns)).join(" + "),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  lines.push(pad(header, widths), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map((row) => pad(row, widths)));
  lines.push("");
  lines.push(
    `workers speedup ratio (speedup with ${json.workers} workers ÷ with 1): ${f(json.workers_speedup_ratio, 3)} ` +
      `(goal ≥ 0.8 at 2 workers; below 1 when follow-ups land on a worker that does not hold their conversation)`,
  );
  lines.push(
    "TTFT: enqueue → first non-empty text in the local reply stream. cold: first turns (whole history evaluated), " +
      "sent together; warm: the follow-ups, sent together once every first turn was answered.",
  );
  lines.push(`(${f(r.elapsedS, 0)} s)`);
  return { table: lines.join("\n"), json };
}
