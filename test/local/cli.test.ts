/** The entry points as a user runs them: `ask`, `chat`, and their failures. */
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/runCli.ts";
import { testRedisUrl } from "../helpers/testRedis.ts";
import { tinyModelPath } from "../helpers/tinyModel.ts";

const prefix = `qbt-cli-${randomUUID().slice(0, 8)}`;
const baseEnv = async () => ({
  MODEL: await tinyModelPath(),
  THREADS: "1",
  MAX_NEW_TOKENS: "16",
  CONTEXT_SIZE: "1024",
  REDIS_PREFIX: prefix,
});

afterAll(async () => {
  const redis = new Redis(testRedisUrl());
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

describe("npm run ask", () => {
  it("prints the answer and exits 0", async () => {
    const r = await runCli("bin/ask.ts", ["你是谁?"], { env: await baseEnv() });
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(r.stdout.endsWith("\n")).toBe(true);
  });

  it("fails clearly, naming the path, when MODEL is missing", async () => {
    const missing = path.join(os.tmpdir(), `nope-${randomUUID()}.gguf`);
    const r = await runCli("bin/ask.ts", ["hi"], { env: { ...(await baseEnv()), MODEL: missing } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("MODEL_NOT_FOUND");
    expect(r.stderr).toContain(missing);
  });

  it("fails clearly when MODEL is not a GGUF file", async () => {
    const bogus = path.join(os.tmpdir(), `bogus-${randomUUID()}.gguf`);
    await fs.writeFile(bogus, "this is not a model\n");
    const r = await runCli("bin/ask.ts", ["hi"], { env: { ...(await baseEnv()), MODEL: bogus } });
    await fs.rm(bogus);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("MODEL_INVALID");
    expect(r.stderr).toContain(bogus);
  });

  it("fails fast and clearly when a Redis that is not local is unreachable (no hang, no private one started)", async () => {
    // 127.0.0.2 is a loopback address, but not one REDIS_URL names for "this machine's Redis".
    const r = await runCli("bin/ask.ts", ["hi"], { env: { ...(await baseEnv()), REDIS_URL: "redis://127.0.0.2:1" }, timeoutMs: 30_000 });
    expect(r.signal).toBeNull(); // it exited by itself, not by our kill timer
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("REDIS_UNAVAILABLE");
    expect(r.stderr).toContain("127.0.0.2:1");
    expect(r.stderr).not.toContain("private");
  });

  it("fails at once with MODEL_INVALID when MODEL has the GGUF magic but a corrupt header (no runaway memory)", async () => {
    const corrupt = path.join(os.tmpdir(), `corrupt-${randomUUID()}.gguf`);
    const header = Buffer.alloc(64);
    header.write("GGUF", 0, "latin1");
    header.writeUInt32LE(3, 4);
    header.writeBigUInt64LE(1n, 8); // tensors
    header.writeBigUInt64LE(1n, 16); // metadata entries
    header.writeBigUInt64LE(1n, 24); // key length
    header.write("a", 32);
    header.writeUInt32LE(9, 33); // an array…
    header.writeUInt32LE(8, 37); // …of strings…
    header.writeBigUInt64LE(1n << 40n, 41); // …2^40 of them
    await fs.writeFile(corrupt, header);
    const r = await runCli("bin/ask.ts", ["hi"], { env: { ...(await baseEnv()), MODEL: corrupt }, timeoutMs: 60_000 });
    await fs.rm(corrupt);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("MODEL_INVALID");
    expect(r.stderr).toContain(`MODEL is not a valid GGUF file: ${corrupt}`);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it("says MODEL is a directory, without a stack trace", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "qb-modeldir-"));
    const r = await runCli("bin/ask.ts", ["hi"], { env: { ...(await baseEnv()), MODEL: dir }, timeoutMs: 60_000 });
    await fs.rm(dir, { recursive: true });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`qwenbot: error [MODEL_INVALID]: MODEL is a directory, not a GGUF file: ${dir}`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("names the variable when the config is invalid", async () => {
    const r = await runCli("bin/ask.ts", ["hi"], { env: { ...(await baseEnv()), MAX_NEW_TOKENS: "lots" } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("CONFIG_INVALID");
    expect(r.stderr).toContain("MAX_NEW_TOKENS");
  });
});

describe("npm run chat", () => {
  it("runs three turns with memory and quits on exit", async () => {
    const room = `cli-${randomUUID().slice(0, 8)}`;
    const r = await runCli("bin/chat.ts", ["--room", room], {
      env: await baseEnv(),
      stdin: "你是谁?\nsecond question\n/unknown\nthird question\nexit\n",
    });
    expect(r.code).toBe(0);
    expect(r.stdout.match(/User: /g)?.length).toBeGreaterThanOrEqual(4);
    expect(r.stdout.match(/Assistant: /g)).toHaveLength(3);
    expect(r.stdout).toContain("Unknown command /unknown");
    expect(r.stdout).toContain("Exiting...");
    const redis = new Redis(testRedisUrl());
    const turns = (await redis.lrange(`${prefix}:turns:local:${room}`, 0, -1)).map((s) => JSON.parse(s) as { role: string; text: string });
    redis.disconnect();
    expect(turns.map((t) => t.role)).toEqual(["user", "assistant", "user", "assistant", "user", "assistant"]);
    expect(turns.filter((t) => t.role === "user").map((t) => t.text)).toEqual(["你是谁?", "second question", "third question"]);
  });
});
