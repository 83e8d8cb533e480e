/**
 * `npm run bench -- --peer PATH`: llama.cpp's own batched decoding speed on the same model and
 * settings, measured between the bot's runs. PATH is a `llama-batched-bench` binary of the same
 * llama.cpp release as node-llama-cpp (built from node-llama-cpp/llama/gitRelease.bundle; the
 * project never builds it itself). It runs N sequences of `promptTokens` prompt tokens each, then
 * generates `tokens` tokens in every sequence at once; its `S_TG` (generated tokens per second,
 * all sequences together) is what the bot's decode rate is compared with.
 *
 * The settings mirror the worker's context (workers/inference/loadModel.ts contextOptions):
 * the same threads for prompt and generation, a 512-token batch, flash attention off (the
 * node-llama-cpp default), all layers on the GPU when there is one.
 */
import { spawn } from "node:child_process";

export interface PeerOptions {
  binary: string;
  model: string;
  threads: number;
  /** Prompt tokens per sequence. */
  promptTokens: number;
  /** Tokens generated per sequence. */
  tokens: number;
  /** Sequences at once (the bot's conversations at once). */
  concurrency: number[];
  /** Longest the peer may run (ms). */
  timeoutMs?: number;
}

export interface PeerRun {
  n: number;
  /** S_TG: generated tokens per second, all sequences together. */
  decodeTokensPerS: number;
  /** S_PP: prompt tokens per second. */
  prefillTokensPerS: number;
}

export class PeerBenchError extends Error {
  readonly code = "PEER_BENCH_FAILED";
  constructor(message: string) {
    super(message);
    this.name = "PeerBenchError";
  }
}

/** The command line for `opts` (exported for the test and the report). */
export function peerArgs(opts: PeerOptions): string[] {
  const maxN = Math.max(...opts.concurrency);
  const kv = maxN * (opts.promptTokens + opts.tokens) + 64;
  return [
    ...["-m", opts.model, "-c", String(kv), "-b", "512", "-ub", "512"],
    ...["-npp", String(opts.promptTokens), "-ntg", String(opts.tokens), "-npl", opts.concurrency.join(",")],
    ...["-t", String(opts.threads), "-tb", String(opts.threads), "-fa", "off", "-ngl", "99", "--output-format", "jsonl"],
  ];
}

/** The runs in llama-batched-bench's `--output-format jsonl` output (other lines are its logs). */
export function parsePeerOutput(stdout: string): PeerRun[] {
  const runs: PeerRun[] = [];
  for (const line of stdout.split("\n")) {
    const t = line.trim();
    if (!t.startsWith("{") || !t.includes('"speed_tg"')) continue;
    const row = JSON.parse(t) as { pl: number; speed_tg: number; speed_pp: number };
    if (!Number.isFinite(row.pl) || !Number.isFinite(row.speed_tg)) throw new PeerBenchError(`unexpected peer output line: ${t}`);
    runs.push({ n: row.pl, decodeTokensPerS: row.speed_tg, prefillTokensPerS: row.speed_pp });
  }
  return runs;
}

/** Run the peer once for every N; rejects with a PeerBenchError that says what went wrong. */
export function runPeerBench(opts: PeerOptions): Promise<PeerRun[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(opts.binary, peerArgs(opts), { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 30 * 60_000);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(new PeerBenchError(`could not run ${opts.binary}: ${err.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const tail = stderr.trim().split("\n").slice(-3).join(" | ");
      if (code !== 0) return reject(new PeerBenchError(`${opts.binary} exited with ${signal ?? code}: ${tail}`));
      try {
        const runs = parsePeerOutput(stdout + stderr);
        const missing = opts.concurrency.filter((n) => !runs.some((r) => r.n === n));
        if (missing.length > 0)
          return reject(new PeerBenchError(`${opts.binary} printed no result for N = ${missing.join(", ")}: ${tail}`));
        resolve(runs);
      } catch (err) {
        reject(err instanceof PeerBenchError ? err : new PeerBenchError(String(err)));
      }
    });
  });
}
