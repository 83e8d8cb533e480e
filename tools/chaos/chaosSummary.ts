/**
 * The chaos run's summary: what was done to it (seeded kills per worker, Redis SIGKILLs under
 * everysec), what the client went through (accepted at once, refused while Redis was down and
 * retried), and the checker's counts — Redis's own losses apart from the bot's — with a verdict.
 */
import { type DeliverySummary, FAILURE_FIELDS, type RedisCrash, type SentRecord } from "./checkDelivery.ts";
import { SURFACE_FAILURES, type SurfaceSummary } from "./checkSurface.ts";

/** What happened on one chat platform (Discord, Slack) and what it shows at the end. */
export interface PlatformRun {
  name: string;
  /** Messages the bot took there. */
  sent: number;
  /** Posts the users needed beyond one per message (refusals, silence while the adapter was down). */
  retries: number;
  adapterKills: number;
  faults: readonly string[];
  /** Seconds from each adapter kill until the adapter answered again. */
  recoveries: readonly number[];
  surface: SurfaceSummary;
}

export interface RunFacts {
  seed: number;
  platforms: string[];
  /** SIGKILLs per worker slot. */
  killsPerWorker: number[];
  appendfsync: string;
  redisCrashes: RedisCrash[];
  /** INFO persistence `aof_delayed_fsync` just before each Redis SIGKILL. */
  delayedFsyncBeforeCrash: number[];
  fsyncWindowMs: number;
  /** When the client started and finished sending (ms since the epoch). */
  sendingFrom: number;
  sendingUntil: number;
  sent: readonly SentRecord[];
  summary: DeliverySummary;
  platformRuns?: readonly PlatformRun[];
  /** Seconds from each worker SIGKILL until its replacement was ready (loading the model). */
  workerRestarts?: readonly number[];
}

export interface RunVerdict {
  ok: boolean;
  lines: string[];
}

const row = (label: string, value: string | number) => `  ${label.padEnd(31)} ${value}`;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function summarize(f: RunFacts): RunVerdict {
  const s = f.summary;
  const refused = f.sent.filter((r) => r.refusals > 0);
  const refusals = f.sent.reduce((n, r) => n + r.refusals, 0);
  const crashesWhileSending = f.redisCrashes.filter((c) => c.killedAt < f.sendingUntil).length;
  const reasons: string[] = FAILURE_FIELDS.filter(([field]) => s[field] !== 0).map(([field, label]) => `${label}: ${s[field]}`);
  if (s.answeredExactlyOnce + s.deletedStopped + s.lostByRedis !== s.sent)
    reasons.push(
      `answered ${s.answeredExactlyOnce} + deleted and stopped ${s.deletedStopped} + lost by Redis ${s.lostByRedis} ≠ sent ${s.sent}`,
    );
  if (f.redisCrashes.length > 0 && refused.length === 0) {
    reasons.push(
      "no message was refused while Redis was down: the Redis crash did not overlap the sending, the refusal path went untested",
    );
  }
  const kills = f.killsPerWorker.reduce((a, b) => a + b, 0);
  const platformLines: string[] = [];
  for (const p of f.platformRuns ?? []) {
    for (const [field, label] of SURFACE_FAILURES) if (p.surface[field] !== 0) reasons.push(`${p.name}: ${label}: ${p.surface[field]}`);
    const faultCounts = new Map<string, number>();
    for (const kind of p.faults) faultCounts.set(kind, (faultCounts.get(kind) ?? 0) + 1);
    platformLines.push(
      `  ${p.name}:`,
      row(
        "  messages taken",
        `${p.sent} (${p.surface.answerChains} shown as one answer; ${p.retries} posts again after a refusal or silence)`,
      ),
      row(
        "  adapter SIGKILLs",
        `${p.adapterKills}; answering again after ${p.recoveries.map((r) => `${r.toFixed(1)} s`).join(", ") || "–"}`,
      ),
      row("  platform faults", `${p.faults.length}: ${[...faultCounts].map(([k, n]) => `${k} ×${n}`).join("; ") || "–"}`),
      ...SURFACE_FAILURES.map(([field, label]) => row(`  ${label}`, p.surface[field])),
    );
  }
  const lines = [
    "",
    `chaos summary (seed ${f.seed}; the same faults again: npm run chaos -- --seed ${f.seed})`,
    row("platforms", f.platforms.join(", ")),
    row("workers killed (SIGKILL)", `${kills}: ${f.killsPerWorker.map((n, i) => `worker ${i + 1} ×${n}`).join(", ")}`),
    row("worker back after", f.workerRestarts?.map((r) => `${r.toFixed(1)} s`).join(", ") || "–"),
    row(
      `Redis SIGKILLs (AOF ${f.appendfsync})`,
      `${f.redisCrashes.length}, ${crashesWhileSending} while messages were being sent; ` +
        f.redisCrashes.map((c) => `down ${secs(c.backAt - c.killedAt)} at +${secs(c.killedAt - f.sendingFrom)}`).join(", "),
    ),
    row("sending", `${secs(f.sendingUntil - f.sendingFrom)}`),
    row("sent (accepted)", s.sent),
    row("  accepted at the first try", s.sent - refused.length),
    row("  refused, retried, accepted", `${refused.length} (${refusals} refusals while Redis was down)`),
    row("answered exactly once", s.answeredExactlyOnce),
    row("lost by Redis's fsync window", s.lostByRedis),
    `    (acknowledged ≤ ${secs(f.fsyncWindowMs)} before a Redis SIGKILL, no trace after its restart on the AOF; ` +
      `AOF writes Redis had postponed for a slow fsync before the kill: ${f.delayedFsyncBeforeCrash.join(", ") || "–"})`,
    row("replies deleted, then stopped", s.deletedStopped),
    ...FAILURE_FIELDS.map(([field, label]) => row(label, s[field])),
    ...platformLines,
    row("result", reasons.length === 0 ? "PASS" : "FAIL"),
    ...reasons.map((r) => `    - ${r}`),
    "",
  ];
  const problems = [...s.problems, ...(f.platformRuns ?? []).flatMap((p) => p.surface.problems)];
  if (problems.length > 0) {
    lines.push(
      `details (${problems.length}${problems.length > 30 ? ", first 30" : ""}):`,
      ...problems.slice(0, 30).map((p) => `  - ${p}`),
      "",
    );
  }
  return { ok: reasons.length === 0, lines };
}
