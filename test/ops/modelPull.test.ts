/**
 * `npm run model:pull` against a loopback HTTP server (Range requests, like a CDN) serving the
 * generated tiny GGUF: a fresh download, a second run that finds it, an interrupted download that
 * resumes from where it stopped and ends byte-identical, and clear errors for a wrong URI and for
 * an unreachable host.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveModelPath } from "../../workers/inference/loadModel.ts";
import { pullModel } from "../../workers/inference/pullModel.ts";
import { ROOT, runCli } from "../helpers/runCli.ts";
import { testRedisUrl } from "../helpers/testRedis.ts";
import { tinyModelPath } from "../helpers/tinyModel.ts";

const FILE = "qwen2-tiny.gguf";
const CLI = "bin/modelPull.ts";

interface Served {
  range?: [number, number];
  bytes: number;
}

/** Serves the model with byte ranges; can cut the connection at an offset and then stall. */
class ModelServer {
  readonly requests: Served[] = [];
  /** Ranged responses end (connection cut) at this file offset; ranges starting past it stall. */
  cutAt: number | undefined;
  cut = false;
  private readonly sockets = new Set<Socket>();
  private server!: http.Server;
  port = 0;

  constructor(readonly body: Buffer) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/models/${FILE}`;
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  reset(): void {
    this.requests.length = 0;
    this.cutAt = undefined;
    this.cut = false;
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const { pathname } = new URL(req.url ?? "/", "http://x");
    if (pathname === "/models/readme.txt") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("this is not a model\n");
      return;
    }
    // `/models/<file>`, or a Hugging Face style `/<user>/<repo>/resolve/<branch>/<file>` (HF_ENDPOINT pointed here).
    if (pathname !== `/models/${FILE}` && !pathname.endsWith(`/resolve/main/${FILE}`)) {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found\n");
      return;
    }
    const size = this.body.length;
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    if (!m) {
      this.requests.push({ bytes: size });
      res.writeHead(200, { "content-length": String(size), "accept-ranges": "bytes", "content-type": "application/octet-stream" });
      if (req.method === "HEAD") res.end();
      else res.end(this.body);
      return;
    }
    const start = Number(m[1]);
    const end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
    if (start >= size || end < start) {
      res.writeHead(416, { "content-range": `bytes */${size}` });
      res.end();
      return;
    }
    const served: Served = { range: [start, end], bytes: 0 };
    this.requests.push(served);
    if (this.cutAt !== undefined && start >= this.cutAt) return; // stall: the connection hangs
    res.writeHead(206, {
      "content-length": String(end - start + 1),
      "content-range": `bytes ${start}-${end}/${size}`,
      "accept-ranges": "bytes",
      "content-type": "application/octet-stream",
    });
    if (this.cutAt !== undefined && end >= this.cutAt) {
      const part = this.body.subarray(start, this.cutAt);
      served.bytes = part.length;
      res.write(part, () => {
        this.cut = true;
        res.socket?.destroy();
      });
      return;
    }
    served.bytes = end - start + 1;
    res.end(this.body.subarray(start, end + 1));
  }
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

let server: ModelServer;
let source: Buffer;
const dirs: string[] = [];

async function tempDir(): Promise<string> {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), "qb-pull-"));
  dirs.push(d);
  return d;
}

beforeAll(async () => {
  source = await fs.readFile(await tinyModelPath());
  server = new ModelServer(source);
  await server.start();
});

afterAll(async () => {
  await server?.close();
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});

const env = (modelsDir: string, model = server.url) => ({ MODEL: model, MODELS_DIR: modelsDir });

describe("model:pull from a loopback server", () => {
  it("downloads the model into MODELS_DIR, then finds it on the next run without downloading again", async () => {
    server.reset();
    const dir = await tempDir();
    const r = await runCli(CLI, [], { env: env(dir), timeoutMs: 90_000 });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Model downloaded: .*qwen2-tiny\.gguf/);
    expect(r.stdout).toMatch(/100%/); // plain progress lines when not a terminal
    const got = await fs.readFile(path.join(dir, FILE));
    expect(sha256(got)).toBe(sha256(source));
    expect(await fs.readdir(dir)).toEqual([FILE]);

    server.reset();
    const again = await runCli(CLI, [], { env: env(dir), timeoutMs: 60_000 });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("Model already present");
    // Nothing but the probe's first 4 bytes was fetched.
    const ranged = server.requests.filter((q) => q.range && q.range[1] - q.range[0] > 3);
    expect(ranged).toEqual([]);
  });

  it("resumes an interrupted download (connection cut mid-way, then Ctrl-C) and ends byte-identical", async () => {
    server.reset();
    const dir = await tempDir();
    const cutAt = 32 * 1024 * 1024 + 12345; // the downloader works in 5 MiB chunks: several complete before the cut
    expect(source.length).toBeGreaterThan(cutAt + 5 * 1024 * 1024);
    server.cutAt = cutAt;
    const partial = path.join(dir, `${FILE}.ipull`);

    const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, CLI)], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", ...env(dir) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    const killer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    try {
      // Wait until the server cut the connection and the downloader saved its progress
      // (the metadata is written after the file's last byte, so the partial grows past it).
      for (let i = 0; i < 600; i++) {
        const st = await fs.stat(partial).catch(() => undefined);
        if (server.cut && st && st.size > source.length) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(server.cut).toBe(true);
      child.kill("SIGINT");
      expect(await exited).toBe(130);
    } finally {
      clearTimeout(killer);
    }
    expect(stderr).toContain("run `npm run model:pull` again to resume");
    const left = await fs.readdir(dir);
    expect(left).toContain(`${FILE}.ipull`);
    expect(left).not.toContain(FILE);

    server.reset(); // healthy again
    const r = await runCli(CLI, [], { env: env(dir), timeoutMs: 90_000 });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Model resumed and completed");
    const ranged = server.requests.filter((q) => q.range && q.range[1] - q.range[0] > 3);
    expect(ranged.length).toBeGreaterThan(0);
    // It asked only for what was missing: at least one 5 MiB chunk of the first run was kept.
    expect(ranged.reduce((a, q) => a + q.bytes, 0)).toBeLessThanOrEqual(source.length - 5 * 1024 * 1024);
    expect(sha256(await fs.readFile(path.join(dir, FILE)))).toBe(sha256(source));
    expect(await fs.readdir(dir)).toEqual([FILE]);
  });

  it("fails clearly (MODEL_URI_INVALID, exit 2) when the URL answers 404", async () => {
    server.reset();
    const dir = await tempDir();
    const url = `http://127.0.0.1:${server.port}/models/nope-${randomUUID().slice(0, 6)}.gguf`;
    const r = await runCli(CLI, [], { env: env(dir, url), timeoutMs: 60_000 });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("MODEL_URI_INVALID");
    expect(r.stderr).toContain("HTTP 404");
    expect(r.stderr).toContain(url);
    expect(await fs.readdir(dir)).toEqual([]);
  });

  it("fails clearly (MODEL_URI_INVALID) when the URL serves something that is not a GGUF file", async () => {
    const dir = await tempDir();
    const url = `http://127.0.0.1:${server.port}/models/readme.txt`;
    const r = await runCli(CLI, [], { env: env(dir, url), timeoutMs: 60_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("MODEL_URI_INVALID");
    expect(r.stderr).toMatch(/not serve a GGUF file/);
  });

  it("fails fast and clearly (NETWORK_UNAVAILABLE, exit 3) when the host cannot be reached", async () => {
    const dir = await tempDir();
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const r = await runCli(CLI, [], { env: env(dir, `http://127.0.0.1:${port}/models/${FILE}`), timeoutMs: 60_000 });
    expect(r.signal).toBeNull(); // it exited by itself: no retry loop
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("NETWORK_UNAVAILABLE");
    expect(r.stderr).toContain("ECONNREFUSED");
  });

  it("rejects a malformed hf: URI and reports an unreachable Hugging Face endpoint as NETWORK_UNAVAILABLE", async () => {
    const dir = await tempDir();
    await expect(pullModel({ model: "hf:just-a-name", modelsDir: dir, huggingFaceEndpoint: "http://127.0.0.1:1/" })).rejects.toMatchObject({
      code: "MODEL_URI_INVALID",
    });
    await expect(
      pullModel({ model: "hf:someone/some-repo/model.gguf", modelsDir: dir, huggingFaceEndpoint: "http://127.0.0.1:1/" }),
    ).rejects.toMatchObject({
      code: "NETWORK_UNAVAILABLE",
    });
  });

  it("accepts a local MODEL path as already present, and names a missing one", async () => {
    const local = await tinyModelPath();
    const ok = await pullModel({ model: local, modelsDir: await tempDir() });
    expect(ok).toMatchObject({ path: local, alreadyPresent: true, bytes: source.length });
    const missing = path.join(os.tmpdir(), `missing-${randomUUID()}.gguf`);
    await expect(pullModel({ model: missing, modelsDir: await tempDir() })).rejects.toMatchObject({ code: "MODEL_NOT_FOUND" });
  });
});

describe("the worker's first run (npm run ask) with an hf: MODEL not downloaded yet", () => {
  const askEnv = (modelsDir: string, endpoint: string) => ({
    MODEL: `hf:someone/tiny-repo/${FILE}`,
    MODELS_DIR: modelsDir,
    HF_ENDPOINT: endpoint,
    THREADS: "1",
    MAX_NEW_TOKENS: "8",
    CONTEXT_SIZE: "1024",
    REDIS_PREFIX: `qbt-pull-${randomUUID().slice(0, 8)}`,
  });
  const offlineRoute = (stderr: string) => {
    expect(stderr).toContain("NETWORK_UNAVAILABLE");
    expect(stderr).toContain("npm run model:make");
    expect(stderr).toContain("MODEL=models/test/qwen2-tiny-f32-s1.gguf npm run chat");
  };

  it("fails at once with the offline route when the Hugging Face endpoint refuses connections", async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const dir = await tempDir();
    const r = await runCli("bin/ask.ts", ["hi"], { env: askEnv(dir, `http://127.0.0.1:${port}/`), timeoutMs: 60_000 });
    console.log(`offline first run (connection refused): failed after ${r.ms} ms`);
    expect(r.signal).toBeNull(); // it exited by itself, not by the kill timer: no retry loop
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("ECONNREFUSED");
    offlineRoute(r.stderr);
    expect(await fs.readdir(dir)).toEqual([]);
  });

  it("gives up after the probe's timeout when the endpoint never answers, with the offline route", async () => {
    // Accepts connections and never says a word (a black-holing proxy or firewall).
    const held: Socket[] = [];
    const silent = (await import("node:net")).createServer((s) => held.push(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as AddressInfo).port;
    try {
      const dir = await tempDir();
      // The bound itself, without the process around it: a short probe timeout is honoured.
      await expect(
        resolveModelPath({
          model: `hf:someone/tiny-repo/${FILE}`,
          modelsDir: dir,
          huggingFaceEndpoint: `http://127.0.0.1:${port}/`,
          probeTimeoutMs: 300,
        }),
      ).rejects.toMatchObject({ code: "NETWORK_UNAVAILABLE", message: expect.stringContaining("ETIMEDOUT") });
      // The whole first run with the default probe timeout (10 s).
      const r = await runCli("bin/ask.ts", ["hi"], { env: askEnv(dir, `http://127.0.0.1:${port}/`), timeoutMs: 60_000 });
      console.log(`offline first run (endpoint never answers): failed after ${r.ms} ms`);
      expect(r.signal).toBeNull();
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("ETIMEDOUT");
      offlineRoute(r.stderr);
    } finally {
      for (const s of held) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it("with a network: downloads through HF_ENDPOINT, with progress lines when not a terminal, then answers", async () => {
    server.reset();
    const dir = await tempDir();
    const env = askEnv(dir, `http://127.0.0.1:${server.port}/`);
    const r = await runCli("bin/ask.ts", ["hi"], { env, timeoutMs: 120_000 });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`Downloading hf:someone/tiny-repo/${FILE} into ${dir}`);
    expect(r.stderr).toMatch(/^ +100% +\d+\.\d MiB of \d+\.\d MiB$/m);
    const files = await fs.readdir(dir);
    expect(files).toHaveLength(1);
    expect(sha256(await fs.readFile(path.join(dir, files[0]!)))).toBe(sha256(source));
    const redis = new Redis(testRedisUrl());
    const keys = await redis.keys(`${env.REDIS_PREFIX}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });
});
