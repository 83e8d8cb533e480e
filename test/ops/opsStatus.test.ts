/**
 * `npm run status`: queue depth, live workers, in-flight replies, inbox depths and recent
 * throughput, read from Redis — what a real worker (tiny model) records as it answers — and the
 * per-place settings with their latest changes.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningWorker } from "../../bin/wiring/startWorker.ts";
import { formatStatus, readStatus, type StatusReport } from "../../src/ops/readStatus.ts";
import { SettingsStore } from "../../src/settings/SettingsStore.ts";
import { settingsOptionsFrom } from "../../src/settings/settingsCatalog.ts";
import type { ChatRequest } from "../../src/types.ts";
import type { GenerationEvent } from "../../workers/ChatWorker.ts";
import type { ModelRunner } from "../../workers/inference/ModelRunner.ts";
import { Harness, loadTinyRunner, testConfig } from "../helpers/harness.ts";
import { runCli } from "../helpers/runCli.ts";

let runner: ModelRunner;
let h: Harness;
let w: RunningWorker;
const events: GenerationEvent[] = [];

beforeAll(async () => {
  const config = await testConfig();
  runner = await loadTinyRunner(config);
  h = new Harness(config, runner);
  w = await h.startWorker();
  w.worker.on("generation", (e) => events.push(e));
});

afterAll(async () => {
  await h?.close();
  await runner?.close();
});

const status = () => readStatus({ redis: h.redis, queue: h.queue, keys: h.keys });

describe("status", () => {
  it("shows the live worker and the throughput it recorded", async () => {
    const client = h.client("status");
    await client.ask("one");
    await client.ask("two");
    for (let i = 0; i < 100 && events.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 50)); // the stats write follows the event
    const tokens = events.reduce((a, e) => a + e.result.generatedTokens, 0);
    const ttft = events.reduce((a, e) => a + Math.round(e.result.ttftMs), 0) / events.length;

    const r: StatusReport = await status();
    expect(r.workers.live).toHaveLength(1);
    expect(r.workers.live[0]).toMatchObject({
      id: w.worker.id,
      gpu: "cpu",
      model: "qwen2-tiny-f32-s1.gguf",
      sequences: 2,
      pid: process.pid,
    });
    expect(r.workers.bullmq).toBeGreaterThanOrEqual(1);
    expect(r.queue).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0 });
    expect(r.inFlight).toBe(0);
    expect(r.throughput.map((t) => t.minutes)).toEqual([1, 5, 15]);
    const fifteen = r.throughput[2]!;
    expect(fifteen.replies).toBe(2);
    expect(fifteen.tokens).toBe(tokens);
    expect(fifteen.meanTtftMs).toBeCloseTo(ttft, 0);
    expect(fifteen.replyTokensPerSecond).toBeGreaterThan(0);

    const text = formatStatus(r);
    expect(text).toContain("Workers     1 live");
    expect(text).toContain(w.worker.id);
    expect(text).toMatch(/last 15 min\s+2\s+\d+/);

    // The same, from the command line.
    const cli = await runCli("bin/status.ts", [], { env: { REDIS_URL: h.config.REDIS_URL, REDIS_PREFIX: h.config.REDIS_PREFIX } });
    expect(cli.stderr).toBe("");
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain(`prefix ${h.config.REDIS_PREFIX}`);
    expect(cli.stdout).toContain(w.worker.id);
    expect(cli.stdout).toMatch(/Queue\s+waiting 0 · active 0/);
    const json = await runCli("bin/status.ts", ["--json"], { env: { REDIS_URL: h.config.REDIS_URL, REDIS_PREFIX: h.config.REDIS_PREFIX } });
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as StatusReport;
    expect(parsed.throughput[2]!.replies).toBe(2);
    expect(parsed.workers.live[0]!.id).toBe(w.worker.id);
  });

  it("shows waiting work and inbox depths, and forgets a worker that stopped", async () => {
    await w.close();
    expect(await h.redis.exists(h.keys.worker(w.worker.id))).toBe(0);
    const request = (conv: string): ChatRequest => ({
      requestId: `st-${randomUUID()}`,
      conversationKey: conv,
      author: { id: "u", name: "u" },
      text: "waiting",
      receivedAt: Date.now(),
      reply: { platform: "local", channelId: "c", messageId: randomUUID() },
    });
    await h.ingestor.ingest(request("local:busy"));
    await h.ingestor.ingest(request("local:busy"));
    await h.ingestor.ingest(request("local:quiet"));
    const r = await status();
    expect(r.workers.live).toEqual([]);
    expect(r.queue.waiting).toBe(2);
    expect(r.inboxes).toEqual({
      conversations: 2,
      messages: 3,
      deepest: [
        { conversationKey: "local:busy", depth: 2 },
        { conversationKey: "local:quiet", depth: 1 },
      ],
    });
    const text = formatStatus(r);
    expect(text).toContain("3 messages waiting in 2 conversations");
    expect(text).toMatch(/\n\s+2 {2}local:busy\n/);
  });

  it("shows the settings each place changed and the latest changes: who, what, when", async () => {
    expect((await status()).settings).toEqual({ overrides: [], changes: [] });
    expect(formatStatus(await status())).toContain("Settings    0 places with changed settings");
    const store = new SettingsStore(h.redis, h.keys, settingsOptionsFrom(h.config));
    const alice = { id: "U1", name: "alice" };
    const channel = { level: "channel", platform: "discord", workspaceId: "g", channelId: "c" } as const;
    await store.set(channel, "temperature", "0.3", alice);
    await store.set(channel, "system-prompt", "You are a pirate.\nSpeak like one.", alice);
    await store.set({ level: "workspace", platform: "slack", workspaceId: "T1" }, "memory-ttl", "1d", { id: "U2", name: "bob" });
    await store.reset(channel, "temperature", alice);

    const r = await status();
    expect(r.settings.overrides).toEqual([
      { scope: "discord:g:c", settings: { "system-prompt": '"You are a pirate.\nSpeak like one."' } },
      { scope: "slack:T1", settings: { "memory-ttl": "86400 (1 day)" } },
    ]);
    expect(r.settings.changes.map((c) => `${c.actor.name} ${c.action} ${c.setting}`)).toEqual([
      "alice reset temperature",
      "bob set memory-ttl",
      "alice set system-prompt",
      "alice set temperature",
    ]);
    const text = formatStatus(r);
    expect(text).toContain("Settings    2 places with changed settings");
    expect(text).toContain('  discord:g:c  system-prompt="You are a pirate. Speak like one."');
    expect(text).toMatch(/\n {2}\d{4}-\d\d-\d\dT[\d:.]+Z {2}alice \(U1\) {2}discord:g:c {2}reset temperature \(was 0\.3\)\n/);

    const cli = await runCli("bin/status.ts", [], { env: { REDIS_URL: h.config.REDIS_URL, REDIS_PREFIX: h.config.REDIS_PREFIX } });
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain("slack:T1  memory-ttl=86400 (1 day)");
    expect(cli.stdout).toContain("bob (U2)  slack:T1  set memory-ttl: 86400");
  });

  it("fails clearly when Redis is unreachable", async () => {
    const r = await runCli("bin/status.ts", [], { env: { REDIS_URL: "redis://127.0.0.1:1" }, timeoutMs: 30_000 });
    expect(r.signal).toBeNull();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("REDIS_UNAVAILABLE");
  });
});
