/**
 * A redis-server child process: the private Redis `npm run chat` and `npm run ask` start when none
 * answers, and the ones tests and `npm run chaos` start. Only Node's own modules: it spawns the
 * `redis-server` binary found on PATH, waits until it answers PING, and stops it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";

/** No `redis-server` binary on PATH. */
export class RedisServerMissingError extends Error {
  constructor() {
    super("redis-server is not installed (not found on PATH)");
    this.name = "RedisServerMissingError";
  }
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

/** Whether a Redis answers PING on `host:port` (a password-protected one answers too: -NOAUTH). */
export async function redisAnswers(port: number, host = "127.0.0.1", timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    const done = (v: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.on("connect", () => s.write("PING\r\n"));
    s.on("data", (d) => done(/^(\+PONG|-NOAUTH)/.test(d.toString())));
    s.on("error", () => done(false));
  });
}

export interface RedisServerOptions {
  port: number;
  host?: string;
  /** Working directory: AOF files, the pid file and the log go here. */
  dir: string;
  /** More redis-server arguments (`--appendfsync`, `--requirepass`, …). */
  args?: string[];
  /** Own process group: a Ctrl-C in the terminal reaches this process, not the server (it is stopped in order). */
  detached?: boolean;
  /** How long to wait for the first PONG (default 10 s). */
  timeoutMs?: number;
}

export class RedisServer {
  private exited: Promise<number | null>;

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly host: string,
  ) {
    this.exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Start redis-server and wait until it answers. Throws RedisServerMissingError when there is none. */
  static async start(opts: RedisServerOptions): Promise<RedisServer> {
    const host = opts.host ?? "127.0.0.1";
    const child = spawn("redis-server", ["--port", String(opts.port), "--bind", host, "--dir", opts.dir, ...(opts.args ?? [])], {
      stdio: "ignore",
      detached: opts.detached === true,
    });
    const spawned = await new Promise<Error | undefined>((resolve) => {
      child.once("spawn", () => resolve(undefined));
      child.once("error", resolve);
    });
    if (spawned) throw (spawned as NodeJS.ErrnoException).code === "ENOENT" ? new RedisServerMissingError() : spawned;
    const server = new RedisServer(child, opts.port, host);
    const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
    while (!(await redisAnswers(opts.port, host))) {
      if (!server.running) throw new Error(`redis-server exited at once (code ${child.exitCode ?? child.signalCode})`);
      if (Date.now() > deadline) {
        server.kill("SIGKILL");
        throw new Error("redis-server did not answer within its start timeout");
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return server;
  }

  /** Signal it without waiting (SIGTERM: redis-server flushes its AOF and exits). Safe in a process `exit` handler. */
  kill(signal: NodeJS.Signals = "SIGTERM"): void {
    if (this.running) this.child.kill(signal);
  }

  /** Stop it (SIGTERM by default) and wait until it is gone. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    await this.exited;
  }

  /** Leave it running after this process exits. */
  detach(): void {
    this.child.unref();
  }

  /** Resolves with its exit code when it exits (null when killed by a signal). */
  exit(): Promise<number | null> {
    return this.exited;
  }
}
