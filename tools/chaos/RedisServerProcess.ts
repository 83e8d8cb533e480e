/**
 * A private redis-server on a free port with its data in a temp dir: the tests' Redis when none
 * answers (test/helpers/redisGlobalSetup.ts), fault tests, and `npm run chaos`, which stops it
 * cleanly, crashes it (SIGKILL) and restarts it on its append-only file.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { redisAnswers as answers, freePort } from "../../src/ops/redisServer.ts";

export { freePort };

export interface RedisServerOptions {
  /**
   * Persistence: `always` / `everysec` / `no` = AOF with that fsync policy (docker-compose.yml
   * uses everysec); `none` = in memory only (the tests' shared server). Default: always.
   */
  appendfsync?: "always" | "everysec" | "no" | "none";
}

/** What to tell someone who has no Redis at all. */
export const INSTALL_REDIS_HINT =
  "install Redis (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) so `redis-server` is on PATH, or start one and set REDIS_URL";

export class RedisServerProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  /** The server's recent output (its log), for error messages. */
  private log = "";

  private constructor(
    readonly port: number,
    readonly dir: string,
    readonly appendfsync: NonNullable<RedisServerOptions["appendfsync"]>,
  ) {}

  /** Is a `redis-server` binary on PATH? */
  static installed(): boolean {
    const r = spawnSync("redis-server", ["--version"], { stdio: "ignore" });
    return r.error === undefined && r.status === 0;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  static async start(opts: RedisServerOptions = {}): Promise<RedisServerProcess> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "qwenbot-redis-"));
    const r = new RedisServerProcess(await freePort(), dir, opts.appendfsync ?? "always");
    try {
      await r.up();
    } catch (err) {
      await fs.rm(dir, { recursive: true, force: true });
      throw err;
    }
    return r;
  }

  /** Start the server (again) on the same port and data dir; an AOF left there is loaded. */
  async up(): Promise<void> {
    const persistence = this.appendfsync === "none" ? ["--appendonly", "no"] : ["--appendonly", "yes", "--appendfsync", this.appendfsync];
    const child = spawn(
      "redis-server",
      ["--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir, ...persistence, "--save", ""],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    this.child = child;
    this.log = "";
    const keep = (d: Buffer) => {
      this.log = (this.log + d.toString("utf8")).slice(-4000);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    let spawnError: Error | undefined;
    this.exited = new Promise((resolve) => {
      child.on("error", (err) => {
        spawnError = err;
        resolve();
      });
      child.on("exit", () => resolve());
    });
    const deadline = Date.now() + 10_000;
    while (!(await answers(this.port))) {
      if (spawnError) throw new Error(`could not run redis-server (${spawnError.message}): ${INSTALL_REDIS_HINT}`);
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`redis-server exited at start (${child.exitCode ?? child.signalCode}):\n${this.log.trim()}`);
      }
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${this.port} within 10 s:\n${this.log.trim()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private running(): boolean {
    const c = this.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  /** Stop like an operator would (SIGTERM: the AOF is flushed and fsynced), and wait until it is gone. */
  async down(): Promise<void> {
    if (!this.running()) return;
    this.child!.kill("SIGTERM");
    await this.exited;
  }

  /** Crash it: SIGKILL, no chance to flush or fsync anything; wait until it is gone. */
  async crash(): Promise<void> {
    if (!this.running()) return;
    this.child!.kill("SIGKILL");
    await this.exited;
  }

  async restart(): Promise<void> {
    await this.down();
    await this.up();
  }

  async close(): Promise<void> {
    if (this.running()) {
      this.child!.kill("SIGKILL");
      await this.exited;
    }
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}
