/** A real worker process (`bin/worker.ts`) for fault tests and `npm run chaos`: start, wait until ready, kill. */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "../..");

export class WorkerProcess {
  output = "";
  private exited: Promise<number | null>;

  private constructor(readonly child: ChildProcess) {
    child.stdout!.on("data", (d: Buffer) => (this.output += d.toString("utf8")));
    child.stderr!.on("data", (d: Buffer) => (this.output += d.toString("utf8")));
    this.exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  }

  /** Start `script` and wait for its log line `ready` (a worker's "worker ready" by default). */
  static async start(
    env: Record<string, string>,
    timeoutMs = 60_000,
    script = "bin/worker.ts",
    ready = "worker ready",
  ): Promise<WorkerProcess> {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, script)], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", LOG_LEVEL: "info", LOG_PRETTY: "false", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const w = new WorkerProcess(child);
    const deadline = Date.now() + timeoutMs;
    while (!w.output.includes(`"msg":"${ready}"`)) {
      if (child.exitCode !== null) throw new Error(`${script} exited early (${child.exitCode}):\n${w.output}`);
      if (Date.now() > deadline) {
        await w.stop();
        throw new Error(`${script} not ready in time:\n${w.output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return w;
  }

  /** Write what the process printed to `file` (a chaos run's `--logs`). */
  async saveOutput(file: string): Promise<void> {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, this.output);
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Exit code (null when killed by a signal). */
  exit(): Promise<number | null> {
    return this.exited;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGKILL");
      await this.exited;
    }
  }
}
