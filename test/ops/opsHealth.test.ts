/**
 * Health endpoints: /healthz is alive; /readyz follows Redis (a private redis-server on its own
 * port, stopped and started again — the shared one on 6379 is never touched) and the entry
 * point's own checks; a real `npm run worker` process (METRICS_PORT) becomes ready once its model
 * is loaded and goes away cleanly on SIGTERM.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import net from "node:net";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/logger.ts";
import { redisCheck, startHealthServer } from "../../src/ops/healthServer.ts";
import { startOps } from "../../src/ops/startOps.ts";
import { createRedis } from "../../src/redisConnection.ts";
import { REDIS_URL } from "../helpers/harness.ts";
import { ROOT } from "../helpers/runCli.ts";
import { tinyModelPath } from "../helpers/tinyModel.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** A private redis-server (no persistence) on `port`. */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: "ignore",
  });
  const probe = new Redis(port, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on("error", () => {});
  try {
    for (let i = 0; i < 100; i++) {
      try {
        if (probe.status !== "ready") await probe.connect();
        if ((await probe.ping()) === "PONG") return child;
      } catch {
        probe.disconnect();
        await sleep(50);
      }
    }
    throw new Error(`redis-server did not start on port ${port}`);
  } finally {
    probe.disconnect();
  }
}

async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  await gone;
}

interface Ready {
  status: number;
  body: { status: string; checks: Record<string, string> };
}

async function readyz(url: string): Promise<Ready> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as Ready["body"] };
}

/** Poll /readyz until it answers `status` (bounded: fails the test rather than hang). */
async function readyzUntil(url: string, status: number): Promise<Ready> {
  let last: Ready | undefined;
  for (let i = 0; i < 150; i++) {
    last = await readyz(url);
    if (last.status === status) return last;
    await sleep(100);
  }
  return last!;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

describe("/healthz and /readyz", () => {
  it("/readyz turns unready when Redis stops and ready again when it returns; /healthz stays alive", async () => {
    const port = await freePort();
    const redis = createRedis(`redis://127.0.0.1:${port}`, "producer");
    cleanups.push(async () => redis.disconnect());
    const server = await startHealthServer({ port: 0, checks: { redis: redisCheck(redis, 500) } });
    cleanups.push(() => server.close());

    // Redis not there yet.
    let r = await readyz(server.url);
    expect(r.status).toBe(503);
    expect(r.body.status).toBe("not ready");
    expect(r.body.checks.redis).toMatch(/Redis unreachable/);

    let redisServer = await startRedis(port);
    cleanups.push(() => stopProcess(redisServer));
    r = await readyzUntil(server.url, 200);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: "ready", checks: { redis: "ok" } });

    await stopProcess(redisServer);
    r = await readyzUntil(server.url, 503);
    expect(r.status).toBe(503);
    expect(r.body.checks.redis).toMatch(/Redis unreachable/);
    const alive = await fetch(`${server.url}/healthz`);
    expect(alive.status).toBe(200);
    expect(await alive.json()).toEqual({ status: "alive" });

    redisServer = await startRedis(port);
    r = await readyzUntil(server.url, 200);
    expect(r.status).toBe(200);
    expect(r.body.checks.redis).toBe("ok");
  });

  it("reports every check by name, and a slow check as not ready", async () => {
    let model: string | undefined = "loading the model";
    const server = await startHealthServer({
      port: 0,
      checkTimeoutMs: 200,
      checks: { model: () => model, slow: () => new Promise<undefined>(() => {}) },
    });
    cleanups.push(() => server.close());
    let r = await readyz(server.url);
    expect(r.status).toBe(503);
    expect(r.body.checks).toEqual({ model: "loading the model", slow: "no answer within 200 ms" });
    model = undefined;
    server.addCheck("slow", () => undefined);
    r = await readyz(server.url);
    expect(r).toEqual({ status: 200, body: { status: "ready", checks: { model: "ok", slow: "ok" } } });
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404); // no registry given
  });

  it("startOps serves nothing without METRICS_PORT, and metrics plus a Redis check with it", async () => {
    const logger = createLogger({ level: "silent" });
    const config = { METRICS_PORT: undefined, METRICS_HOST: "127.0.0.1", REDIS_URL, REDIS_PREFIX: `qbt-ops-${randomUUID().slice(0, 8)}` };
    expect(await startOps({ config, logger })).toBeUndefined();
    const ops = (await startOps({ config, logger, port: 0 }))!;
    cleanups.push(() => ops.close());
    const r = await readyzUntil(ops.server.url, 200);
    expect(r.body.checks).toEqual({ redis: "ok" });
    const text = await (await fetch(`${ops.server.url}/metrics`)).text();
    expect(text).toMatch(/^qwenbot_queue_jobs\{state="waiting"\} 0$/m);
    expect(text).toMatch(/^qwenbot_redis_up 1$/m);
  });
});

describe("a worker process", () => {
  let child: ChildProcess | undefined;
  afterAll(async () => stopProcess(child));

  it("serves /healthz, turns ready once Redis answers and its model is loaded, and exits cleanly on SIGTERM", async () => {
    const prefix = `qbt-opsw-${randomUUID().slice(0, 8)}`;
    child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "bin/worker.ts")], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/root",
        MODEL: await tinyModelPath(),
        REDIS_URL,
        REDIS_PREFIX: prefix,
        THREADS: "1",
        WORKER_CONCURRENCY: "1",
        CONTEXT_SIZE: "1024",
        METRICS_PORT: "0",
        LOG_LEVEL: "info",
        LOG_PRETTY: "false",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child!.on("close", (code) => r(code)));

    let port: number | undefined;
    for (let i = 0; i < 300 && port === undefined; i++) {
      const m = /"port":(\d+).*health and metrics server listening/.exec(out);
      if (m) port = Number(m[1]);
      else await sleep(50);
    }
    expect(port, out).toBeDefined();
    const url = `http://127.0.0.1:${port}`;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const ready = await readyzUntil(url, 200);
    expect(ready.body.checks).toEqual({ redis: "ok", model: "ok" });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^qwenbot_model_info\{model="qwen2-tiny-f32-s1\.gguf",gpu="cpu"\} 1$/m);

    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(out).toContain("worker stopped");
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();

    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    expect(keys.filter((k) => k.includes(":worker:"))).toEqual([]); // the heartbeat left with it
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });
});
