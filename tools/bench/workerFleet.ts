/**
 * `npm run bench -- --workers N`: real worker processes (`bin/worker.ts`, as `npm run worker`
 * runs it), each in its own process group, on one Redis prefix. Ready once each has written its
 * heartbeat (`<prefix>:worker:<id>`, with its pid: src/ops/workerStats.ts), which happens after its
 * ChatWorker takes jobs — so it works at LOG_LEVEL=warn and maps each ChatWorker id to its process.
 * Stopped with SIGTERM (the worker's graceful close), then SIGKILL to the whole group; a bench
 * process that exits or is interrupted kills whatever is left (and, interrupted, runs the fleet's
 * `onInterrupt` cleanup before it exits).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Redis } from "ioredis";
import type { Keys } from "../../src/keys.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
/** Output kept per process, for the error when one fails to start. */
const OUTPUT_TAIL = 8000;

export interface FleetWorker {
  /** The ChatWorker id (the reply state's `worker` field). */
  id: string;
  pid: number;
}

/** Whether a process with this pid still runs (false once it exited, also while a zombie not yet reaped). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    // Linux: the state follows the command name in parentheses; Z is a zombie, X dead.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(")") + 2));
  } catch {
    return true;
  }
}

/** Every fleet of this process, killed on exit and on SIGINT/SIGTERM. */
const live = new Set<WorkerFleet>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    for (const f of live) f.killNow();
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      process.stderr.write(`bench: ${signal}: stopping the worker processes\n`);
      for (const f of live) f.killNow();
      // Then the fleets' own cleanup (the phase's Redis keys), for at most 3 s; a second signal ends it at once.
      const cleanups = [...live].map((f) => f.onInterrupt?.().catch(() => undefined));
      const timer = setTimeout(() => process.exit(signal === "SIGINT" ? 130 : 143), 3000);
      void Promise.all(cleanups).then(() => {
        clearTimeout(timer);
        process.exit(signal === "SIGINT" ? 130 : 143);
      });
    });
  }
}

export class WorkerFleet {
  readonly children: ChildProcess[] = [];
  private readonly output = new Map<ChildProcess, string>();
  workers: FleetWorker[] = [];

  private constructor(readonly onInterrupt?: () => Promise<void>) {}

  /**
   * Start `count` workers with `env` (added to PATH and HOME only: no platform tokens, no
   * METRICS_PORT that the processes would fight over) and wait until each is ready.
   */
  static async start(opts: {
    count: number;
    env: Record<string, string>;
    redis: Redis;
    keys: Keys;
    timeoutMs?: number;
    /** Run after the workers were killed by SIGINT/SIGTERM, before the process exits. */
    onInterrupt?: () => Promise<void>;
  }): Promise<WorkerFleet> {
    hookExit();
    const fleet = new WorkerFleet(opts.onInterrupt);
    live.add(fleet);
    try {
      for (let i = 0; i < opts.count; i++) fleet.spawnOne(opts.env);
      await fleet.waitReady(opts.redis, opts.keys, opts.timeoutMs ?? 180_000);
      return fleet;
    } catch (err) {
      await fleet.stop();
      throw err;
    }
  }

  private spawnOne(env: Record<string, string>): void {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "bin/worker.ts")], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", LOG_PRETTY: "false", ...env },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group: stop() kills anything it started too.
      detached: true,
    });
    this.output.set(child, "");
    const keep = (d: Buffer) => this.output.set(child, `${this.output.get(child) ?? ""}${d.toString("utf8")}`.slice(-OUTPUT_TAIL));
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    child.on("error", (err) => keep(Buffer.from(`spawn failed: ${err.message}\n`)));
    this.children.push(child);
  }

  private async waitReady(redis: Redis, keys: Keys, timeoutMs: number): Promise<void> {
    const pids = new Set(this.children.map((c) => c.pid));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const dead = this.children.find((c) => c.exitCode !== null || c.signalCode !== null || c.pid === undefined);
      if (dead)
        throw new Error(`a worker process exited before it was ready (${dead.exitCode ?? dead.signalCode}):\n${this.output.get(dead)}`);
      const ids = await redis.zrange(keys.workers, 0, -1);
      const found: FleetWorker[] = [];
      for (const id of ids) {
        const pid = Number(await redis.hget(keys.worker(id), "pid"));
        if (pids.has(pid)) found.push({ id, pid });
      }
      if (found.length === this.children.length) {
        this.workers = found;
        return;
      }
      if (Date.now() > deadline) {
        const tails = this.children.map((c) => `--- pid ${c.pid}:\n${this.output.get(c)}`).join("\n");
        throw new Error(`${found.length} of ${this.children.length} workers ready after ${timeoutMs} ms:\n${tails}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Every pid this fleet started. */
  get pids(): number[] {
    return this.children.flatMap((c) => (c.pid === undefined ? [] : [c.pid]));
  }

  /** SIGTERM each worker (graceful close), SIGKILL the groups of those not gone within `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    const running = this.children.filter((c) => c.exitCode === null && c.signalCode === null && c.pid !== undefined);
    const exited = running.map((c) => new Promise<void>((resolve) => c.once("exit", () => resolve())));
    for (const c of running) signalGroup(c.pid!, "SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(exited), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    this.killNow();
    await Promise.all(exited);
    live.delete(this);
  }

  /** SIGKILL every group at once (synchronous: also from an exit handler). */
  killNow(): void {
    for (const pid of this.pids) signalGroup(pid, "SIGKILL");
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}
