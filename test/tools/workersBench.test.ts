/**
 * `npm run bench -- --workers N` (tools/bench/workersBench.ts): the pure helpers (threads and
 * sequences shared out, the per-phase summary, the ratio, the table), then a real run on the tiny
 * test model — 1 worker process, then 2 — whose JSON is checked for structure and consistency and
 * whose worker processes must all be gone afterwards; and an interrupted run that leaves neither
 * processes nor Redis keys.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { connectRedis, createRedis } from "../../src/redisConnection.ts";
import { isAlive } from "../../tools/bench/workerFleet.ts";
import { defaultConversations, sequencesPerWorker, threadsPerWorker } from "../../tools/bench/workersBench.ts";
import { formatWorkersReport, phaseJson, speedupRatio, type WorkersJson, type WorkersPhase } from "../../tools/bench/workersReport.ts";
import { testRedisUrl } from "../helpers/testRedis.ts";
import { tinyModelPath } from "../helpers/tinyModel.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");

function phase(workers: number, turns: Array<[number, number, string, string]>): WorkersPhase {
  const ids = [...new Set(turns.flatMap(([, , a, b]) => [a, b]))].sort();
  return {
    workers,
    threadsPerWorker: 1,
    sequencesPerWorker: 2,
    processes: ids.map((id, i) => ({ id, pid: 1000 + i })),
    turns: turns.map(([cold, warm, coldWorker, warmWorker], i) => ({
      conversation: `local:c${i}`,
      coldTtftMs: cold,
      warmTtftMs: warm,
      coldWorker,
      warmWorker,
      promptTokens: 600,
    })),
  };
}

describe("workers bench: helpers", () => {
  it("shares threads and sequences out, and defaults to 2 × N conversations", () => {
    expect(threadsPerWorker(2, 2)).toBe(1);
    expect(threadsPerWorker(2, 4)).toBe(1);
    expect(threadsPerWorker(8, 3)).toBe(2);
    expect(sequencesPerWorker(4, 2)).toBe(2);
    expect(sequencesPerWorker(5, 2)).toBe(3);
    expect(defaultConversations(1)).toBe(2);
    expect(defaultConversations(3)).toBe(6);
  });

  it("summarizes a phase: p50s, speedup, same-worker follow-ups, turns per process", () => {
    const j = phaseJson(
      phase(2, [
        [1000, 100, "a", "a"],
        [1200, 300, "b", "a"],
        [1100, 200, "b", "b"],
      ]),
    );
    expect(j.cold_ttft_p50_ms).toBe(1100);
    expect(j.warm_ttft_p50_ms).toBe(200);
    expect(j.speedup).toBe(5.5);
    expect(j.same_worker).toBe(2);
    expect(j.conversations).toBe(3);
    expect(j.processes).toEqual([
      { worker_id: "a", pid: 1000, first_turns: 1, follow_ups: 2 },
      { worker_id: "b", pid: 1001, first_turns: 2, follow_ups: 1 },
    ]);
  });

  it("reports speedup(N) ÷ speedup(1), NaN without both phases", () => {
    expect(speedupRatio({ speedup: 10 }, { speedup: 8 })).toBe(0.8);
    expect(speedupRatio({ speedup: 3 }, { speedup: 1 })).toBe(0.333);
    expect(speedupRatio(undefined, { speedup: 8 })).toBeNaN();
    const { table, json } = formatWorkersReport({
      modelPath: "/m/model.gguf",
      modelBytes: 5e8,
      threads: 2,
      contextSize: 1024,
      tokens: 32,
      quick: true,
      phases: [
        phase(1, [
          [1000, 100, "a", "a"],
          [1000, 100, "a", "a"],
        ]),
        phase(2, [
          [1000, 100, "b", "b"],
          [1000, 1000, "c", "b"],
        ]),
      ],
      elapsedS: 12.34,
    });
    expect(json.workers).toBe(2);
    expect(json.phases.map((p) => p.speedup)).toEqual([10, 1.818]);
    expect(json.workers_speedup_ratio).toBe(0.182);
    expect(json.elapsed_s).toBe(12.3);
    expect(table).toContain("workers speedup ratio (speedup with 2 workers ÷ with 1): 0.182");
    expect(table).toMatch(/^2 .* 1\/2 +1 \+ 1$/m);
  });
});

function bench(
  args: string[],
  onStderr?: (text: string, child: ChildProcess) => void,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "tools/bench/bench.ts", ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", REDIS_URL: testRedisUrl(), LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString("utf8");
      onStderr?.(err, child);
    });
    child.on("exit", (code) => resolve({ code, out, err }));
  });
}

const TINY = ["--tokens", "4", "--followup-history", "200", "--conversations", "2", "--threads", "2"];

describe("workers bench: a real run on worker processes", () => {
  it("measures both phases, names the worker of every turn, and leaves no process behind", async () => {
    const model = await tinyModelPath();
    const out = path.join(await mkdtemp(path.join(os.tmpdir(), "workers-bench-")), "out.json");
    const r = await bench(["--workers", "2", "--model", model, ...TINY, "--out", out]);
    expect(r.code, r.err).toBe(0);
    const json = JSON.parse(await readFile(out, "utf8")) as WorkersJson;
    expect(json.mode).toBe("workers");
    expect(json.workers).toBe(2);
    expect(json.threads).toBe(2);
    expect(json.model.file).toBe("qwen2-tiny-f32-s1.gguf");
    expect(json.model.tokens_per_reply).toBe(4);
    expect(json.history_tokens).toBeGreaterThan(150);
    expect(json.phases.map((p) => [p.workers, p.threads_per_worker, p.sequences_per_worker])).toEqual([
      [1, 2, 2],
      [2, 1, 1],
    ]);
    for (const p of json.phases) {
      expect(p.conversations).toBe(2);
      expect(p.turns).toHaveLength(2);
      expect(p.processes).toHaveLength(p.workers);
      const ids = new Set(p.processes.map((w) => w.worker_id));
      for (const t of p.turns) {
        // Every turn answered, by one of this phase's workers, with a time.
        expect(ids.has(t.cold_worker) && ids.has(t.warm_worker)).toBe(true);
        expect(t.cold_ttft_ms).toBeGreaterThan(0);
        expect(t.warm_ttft_ms).toBeGreaterThan(0);
      }
      expect(p.processes.reduce((n, w) => n + w.first_turns, 0)).toBe(2);
      expect(p.processes.reduce((n, w) => n + w.follow_ups, 0)).toBe(2);
      expect(p.same_worker).toBe(p.turns.filter((t) => t.cold_worker === t.warm_worker).length);
      expect(p.speedup).toBeCloseTo(p.cold_ttft_p50_ms / p.warm_ttft_p50_ms, 1);
    }
    // One worker answers everything.
    expect(json.phases[0]!.same_worker).toBe(2);
    expect(json.workers_speedup_ratio).toBeCloseTo(json.phases[1]!.speedup / json.phases[0]!.speedup, 3);
    expect(r.out).toContain("workers speedup ratio");
    const pids = json.phases.flatMap((p) => p.processes.map((w) => w.pid));
    expect(pids).toHaveLength(3);
    for (const pid of pids) expect(isAlive(pid), `worker pid ${pid}`).toBe(false);
  });

  it("stops its worker processes when interrupted", async () => {
    const model = await tinyModelPath();
    let sent = false;
    const r = await bench(["--workers", "2", "--model", model, ...TINY], (err, child) => {
      if (!sent && /ready on .*pid \d+\)\n/.test(err)) {
        sent = true;
        child.kill("SIGINT");
      }
    });
    expect(sent, r.err).toBe(true);
    expect(r.code).toBe(130);
    const pids = [...r.err.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
    expect(pids.length).toBeGreaterThan(0);
    // The kill is SIGKILL to each process group: gone at once (allow a moment for the reaping).
    await new Promise((res) => setTimeout(res, 500));
    for (const pid of pids) expect(isAlive(pid), `worker pid ${pid}`).toBe(false);
    // And the phase's keys were removed before the bench exited.
    const prefix = /REDIS_PREFIX (\S+):/.exec(r.err)?.[1];
    expect(prefix, r.err).toMatch(/^qwenbot-bench-/);
    const redis = createRedis(testRedisUrl(), "producer");
    try {
      await connectRedis(redis, testRedisUrl());
      expect(await redis.keys(`${prefix}:*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });
});
