/** A private redis-server (tests, npm run chaos) with AOF persistence on a free port, which a test may stop and restart. */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { redisAnswers as answers, freePort } from "../../src/ops/redisServer.ts";

export class RedisServerProcess {
  private child: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<RedisServerProcess> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "qwenbot-redis-"));
    const r = new RedisServerProcess(await freePort(), dir);
    await r.up();
    return r;
  }

  async up(): Promise<void> {
    this.child = spawn(
      "redis-server",
      [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--dir",
        this.dir,
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
      ],
      {
        stdio: "ignore",
      },
    );
    const deadline = Date.now() + 10_000;
    while (!(await answers(this.port))) {
      if (Date.now() > deadline) throw new Error("private redis did not start");
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stop like an operator would (SIGTERM: AOF flushed), and wait until it is gone. */
  async down(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.on("exit", r));
    child.kill("SIGTERM");
    await exited;
  }

  async restart(): Promise<void> {
    await this.down();
    await this.up();
  }

  async close(): Promise<void> {
    await this.down();
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}
