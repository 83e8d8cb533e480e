/**
 * The terminal commands as a user meets them: no Redis running (a private one is started, or one
 * line says how to get one), Redis going away mid-chat (a line in the chat, and it goes on), a
 * worker killed mid-answer (marked, then the new attempt), Ctrl-C mid-answer (shown when the room
 * is reopened), a refusal in tokens (exit 2), and `--help` without loading the heavy modules.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RESTART_MARK } from "../../adapters/local/printStream.ts";
import { sanitizeForTerminal } from "../../adapters/local/sanitizeForTerminal.ts";
import { freePort, RedisServer, redisAnswers } from "../../src/ops/redisServer.ts";
import { WorkerProcess } from "../../tools/chaos/WorkerProcess.ts";
import { ROOT, runCli } from "../helpers/runCli.ts";
import { testRedisUrl } from "../helpers/testRedis.ts";
import { tinyModelPath } from "../helpers/tinyModel.ts";

const prefix = `qbt-term-${randomUUID().slice(0, 8)}`;
const dirs: string[] = [];
const children: Array<ChildProcess | WorkerProcess | RedisServer> = [];

const baseEnv = async (over: Record<string, string> = {}) => ({
  MODEL: await tinyModelPath(),
  THREADS: "1",
  MAX_NEW_TOKENS: "16",
  CONTEXT_SIZE: "1024",
  REDIS_URL: testRedisUrl(),
  REDIS_PREFIX: prefix,
  LOCAL_STREAM_INTERVAL_MS: "50",
  ...over,
});

async function tempDir(): Promise<string> {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), "qb-term-"));
  dirs.push(d);
  return d;
}

/** An interactive `npm run chat`: write lines, wait for output. */
class Chat {
  stdout = "";
  stderr = "";
  readonly exited: Promise<number | null>;
  readonly child: ChildProcess;

  constructor(args: string[], env: Record<string, string>) {
    this.child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "bin/chat.ts"), ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", LOG_LEVEL: "warn", ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    children.push(this.child);
    this.child.stdout!.on("data", (d: Buffer) => (this.stdout += d.toString("utf8")));
    this.child.stderr!.on("data", (d: Buffer) => (this.stderr += d.toString("utf8")));
    this.exited = new Promise((resolve) => this.child.on("exit", (code) => resolve(code)));
  }

  send(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  /** Wait until stdout satisfies `test`; fail with what was printed if it does not in time. */
  async waitFor(test: RegExp | ((out: string) => boolean), ms = 90_000): Promise<void> {
    const ok = typeof test === "function" ? test : (s: string) => test.test(s);
    const deadline = Date.now() + ms;
    while (!ok(this.stdout)) {
      if (this.child.exitCode !== null || Date.now() > deadline)
        throw new Error(`not seen: ${test}\n--- stdout\n${this.stdout}\n--- stderr\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  prompts(): number {
    return this.stdout.match(/User: /g)?.length ?? 0;
  }
}

let redis: Redis;

beforeAll(() => {
  redis = new Redis(testRedisUrl());
});

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c instanceof WorkerProcess) await c.stop();
    else if (c instanceof RedisServer) await c.stop("SIGKILL");
    else if (c.exitCode === null) c.kill("SIGKILL");
  }
});

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});

const turnsOf = async (room: string, r: Redis = redis) =>
  (await r.lrange(`${prefix}:turns:local:${room}`, 0, -1)).map((s) => JSON.parse(s) as { role: string; text: string });

describe("no Redis running", () => {
  it("ask starts a private redis-server for as long as it runs, says so in one line, and stops it", async () => {
    const port = await freePort();
    const dir = await tempDir();
    const r = await runCli("bin/ask.ts", ["hello"], {
      env: await baseEnv({ REDIS_URL: `redis://127.0.0.1:${port}`, LOCAL_REDIS_DIR: dir }),
      timeoutMs: 120_000,
    });
    expect(r.code).toBe(0);
    const said = r.stderr.split("\n").filter((l) => l.includes("private"));
    expect(said).toEqual([
      `Redis was not running: started a private one on 127.0.0.1:${port} for this command (data in ${dir}); it stops when the command ends.`,
    ]);
    expect(await redisAnswers(port)).toBe(false); // stopped on exit
    expect(await fs.readdir(path.join(dir, "appendonlydir"))).toContain("appendonly.aof.manifest");
  });

  it("without a redis-server installed: one line on how to install or start one, and a non-zero exit", async () => {
    const port = await freePort();
    const r = await runCli("bin/ask.ts", ["hello"], {
      env: await baseEnv({ REDIS_URL: `redis://127.0.0.1:${port}`, LOCAL_REDIS_DIR: await tempDir(), PATH: "/nonexistent" }),
      timeoutMs: 60_000,
    });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(1);
    const line = r.stderr.split("\n").find((l) => l.includes("REDIS_UNAVAILABLE"));
    expect(line).toContain(`127.0.0.1:${port}`);
    expect(line).toContain("no redis-server is installed");
    expect(line).toContain("apt-get install redis-server");
    expect(line).toContain("redis-server --daemonize yes");
  });
});

describe("npm run chat", () => {
  it("Redis going away mid-chat is a line in the chat; the chat goes on when Redis is back", async () => {
    const port = await freePort();
    const dir = await tempDir();
    const start = () => RedisServer.start({ port, dir, args: ["--appendonly", "yes", "--appendfsync", "always", "--save", ""] });
    let server = await start();
    children.push(server);
    const room = `outage-${randomUUID().slice(0, 6)}`;
    const chat = new Chat(["--room", room], await baseEnv({ REDIS_URL: `redis://127.0.0.1:${port}` }));
    await chat.waitFor(/User: $/);
    chat.send("first question");
    await chat.waitFor(() => chat.prompts() === 2);
    await server.stop();
    chat.send("sent while Redis is down");
    await chat.waitFor(/Redis is not answering, so that was not sent/);
    await chat.waitFor(() => chat.prompts() === 3);
    expect(chat.child.exitCode).toBeNull();
    server = await start();
    children.push(server);
    // The client reconnects by itself within a couple of seconds; a user would just send again.
    for (let i = 0; i < 20; i++) {
      const before = chat.prompts();
      chat.send("after Redis is back");
      await chat.waitFor(() => chat.prompts() === before + 1);
      if (!chat.stdout.trimEnd().endsWith("send it again once Redis is back.)\nUser:")) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    chat.send("exit");
    expect(await chat.exited).toBe(0);
    const r = new Redis(`redis://127.0.0.1:${port}`);
    const turns = await turnsOf(room, r);
    r.disconnect();
    expect(turns.filter((t) => t.role === "user").map((t) => t.text)).toEqual(["first question", "after Redis is back"]);
    expect(turns.map((t) => t.role)).toEqual(["user", "assistant", "user", "assistant"]);
    expect(chat.stderr).not.toMatch(/unexpected error|Stream isn't writeable/);
  });
});

describe("answers interrupted or orphaned", () => {
  const workerEnv = async () =>
    baseEnv({ MAX_NEW_TOKENS: "300", JOB_LOCK_MS: "2000", CONTEXT_SIZE: "2048", WORKER_CONCURRENCY: "1" }) as Promise<
      Record<string, string>
    >;
  /** What the chat printed after its last "Assistant: ". */
  const lastAnswer = (out: string) => out.slice(out.lastIndexOf("Assistant: ") + "Assistant: ".length);

  it("a worker killed mid-answer: the partial text is marked and the new attempt follows in full", async () => {
    const env = await workerEnv();
    const a = await WorkerProcess.start(env);
    children.push(a);
    const chat = new Chat(["--room", `killed-${randomUUID().slice(0, 6)}`, "--external"], env);
    await chat.waitFor(/User: $/);
    chat.send("tell me a long story");
    await chat.waitFor((out) => out.includes("Assistant: ") && lastAnswer(out).length >= 3);
    a.kill("SIGKILL");
    await a.exit();
    children.push(await WorkerProcess.start(env));
    await chat.waitFor(() => chat.prompts() === 2, 120_000);
    chat.send("exit");
    expect(await chat.exited).toBe(0);
    const answer = lastAnswer(chat.stdout);
    const mark = answer.indexOf(`(${RESTART_MARK})\n`);
    expect(mark).toBeGreaterThan(0); // after some partial text
    expect(answer.slice(0, mark).trim().length).toBeGreaterThan(0);
    expect(answer.slice(mark).split("\n").slice(1).join("\n").trim().length).toBeGreaterThan(0);
  }, 300_000);

  it("Ctrl-C mid-answer: the answer goes on in the background and is shown when the room is reopened", async () => {
    const env = await workerEnv();
    children.push(await WorkerProcess.start(env));
    const room = `orphan-${randomUUID().slice(0, 6)}`;
    const chat = new Chat(["--room", room, "--external"], env);
    await chat.waitFor(/User: $/);
    chat.send("a story to leave behind");
    await chat.waitFor((out) => out.includes("Assistant: ") && lastAnswer(out).length >= 1);
    chat.child.kill("SIGINT");
    expect(await chat.exited).toBe(130);
    expect(chat.stdout).toContain(`it is shown when you open this conversation again: npm run chat -- --room ${room}`);
    // The answer finishes while no chat is open.
    const deadline = Date.now() + 120_000;
    while ((await turnsOf(room)).length < 2) {
      if (Date.now() > deadline) throw new Error("the orphaned answer never finished");
      await new Promise((r) => setTimeout(r, 200));
    }
    const stored = (await turnsOf(room))[1]!.text;
    const reopened = await runCli("bin/chat.ts", ["--room", room, "--external"], { env, stdin: "exit\n", timeoutMs: 90_000 });
    expect(reopened.code).toBe(0);
    expect(reopened.stdout).toContain(`(The answer to "a story to leave behind" arrived while the chat was closed:)\nAssistant: `);
    expect(reopened.stdout).toContain(sanitizeForTerminal(stored));
    expect(await redis.hlen(`${prefix}:unseen:local:${room}`)).toBe(0);
    // Shown once: the next opening has nothing to show.
    const again = await runCli("bin/chat.ts", ["--room", room, "--external"], { env, stdin: "exit\n", timeoutMs: 90_000 });
    expect(again.stdout).not.toContain("arrived while the chat was closed");
  }, 400_000);
});

describe("Ctrl-C with the worker in the chat's own process", () => {
  it("puts the running reply back in the queue; reopening the room shows it being answered, marked as a new attempt", async () => {
    const env = await baseEnv({ MAX_NEW_TOKENS: "1500", CONTEXT_SIZE: "2048" });
    const room = `inproc-${randomUUID().slice(0, 6)}`;
    const chat = new Chat(["--room", room], env);
    await chat.waitFor(/User: $/);
    chat.send("a story to interrupt");
    await chat.waitFor((out) => /Assistant: \s*\S/.test(out));
    chat.child.kill("SIGINT");
    expect(await chat.exited).toBe(130);
    expect(await turnsOf(room)).toEqual([]); // nothing half-written
    const reopened = await runCli("bin/chat.ts", ["--room", room], { env, stdin: "exit\n", timeoutMs: 240_000 });
    expect(reopened.code).toBe(0);
    const out = reopened.stdout;
    const header = out.indexOf(`(Still answering "a story to interrupt" from before:)\nAssistant: `);
    expect(header).toBeGreaterThan(0);
    // The stream of that reply: the interrupted attempt, its note, the mark, the new attempt.
    const note = out.indexOf("(interrupted by a worker restart — resuming shortly…)", header);
    const mark = out.indexOf(`(${RESTART_MARK})`, note);
    expect(note).toBeGreaterThan(header);
    expect(mark).toBeGreaterThan(note);
    const turns = await turnsOf(room);
    expect(turns.map((t) => t.role)).toEqual(["user", "assistant"]);
    expect(out.slice(mark)).toContain(sanitizeForTerminal(turns[1]!.text));
    expect(out.indexOf("Exiting...")).toBeGreaterThan(mark);
  }, 400_000);
});

describe("npm run ask: exit status and start-up", () => {
  it("exits 2 with the reason on stderr when the message is too long in tokens (like the character limit)", async () => {
    const r = await runCli("bin/ask.ts", ["word ".repeat(600)], { env: await baseEnv({ CONTEXT_SIZE: "256" }), timeoutMs: 90_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/qwenbot: Your message is \d+ tokens long; the most I can read at once is \d+ tokens/);
    expect(r.stdout).toBe("");
  });

  it("--help loads none of the heavy modules (model library, BullMQ, Redis client); a real run does", async () => {
    const hook = path.join(ROOT, "test/local/fixtures/forbidHeavyImports.mjs");
    const run = (script: string, args: string[]) =>
      new Promise<{ code: number | null; out: string; ms: number }>((resolve) => {
        const started = Date.now();
        const child = spawn(process.execPath, ["--import", "tsx", "--import", hook, path.join(ROOT, script), ...args], {
          cwd: ROOT,
          env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", REDIS_PREFIX: prefix },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        child.stdout.on("data", (d: Buffer) => (out += d));
        child.stderr.on("data", (d: Buffer) => (out += d));
        child.on("close", (code) => resolve({ code, out, ms: Date.now() - started }));
      });
    for (const script of ["bin/chat.ts", "bin/ask.ts"]) {
      const help = await run(script, ["--help"]);
      console.log(`${script} --help: ${help.ms} ms`);
      expect(help.code).toBe(0);
      expect(help.out).toMatch(/^usage: npm run (chat|ask)/);
    }
    const real = await run("bin/ask.ts", ["hi"]);
    expect(real.code).not.toBe(0);
    expect(real.out).toContain("heavy module loaded");
  });
});
