/**
 * DISCORD_SHARDS: two adapter processes (`npm start` with EXTERNAL_WORKERS=true), one running shard
 * 0 of 2 and the other shard 1 of 2, against the Discord simulator, which routes each guild's
 * events by `(guild_id >> 22) % 2` and DMs to shard 0. A worker in this process answers. Every
 * question in either guild, and in the DM, gets exactly one reply; the commands are registered
 * once (by the process with shard 0). Also: the variable's parsing and its refusals.
 */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDiscordSink } from "../../adapters/discord/DiscordSink.ts";
import { shardOptions } from "../../adapters/discord/startDiscordAdapter.ts";
import { parseDiscordShards } from "../../src/config/discordShards.ts";
import type { Config } from "../../src/config.ts";
import { loadConfig } from "../../src/config.ts";
import type { GenerationEvent } from "../../workers/ChatWorker.ts";
import type { ModelRunner } from "../../workers/inference/ModelRunner.ts";
import { Harness, loadTinyRunner, testConfig } from "../helpers/harness.ts";
import { ROOT } from "../helpers/runCli.ts";
import { DiscordSimulator } from "../sim/discord/DiscordSimulator.ts";

const BOT = "900000000000000001";
const G0 = (1000n << 22n).toString(); // shard 0 of 2
const G1 = (1001n << 22n).toString(); // shard 1 of 2
const C0 = "300000000000000001";
const C1 = "300000000000000002";
const DM = "400000000000000001";
const ALICE = { id: "500000000000000001", username: "alice" };

describe("DISCORD_SHARDS parsing", () => {
  it("reads auto, ranges and lists with the total", () => {
    expect(parseDiscordShards("auto")).toEqual({ ids: "auto" });
    expect(parseDiscordShards("0-3/8")).toEqual({ ids: [0, 1, 2, 3], count: 8 });
    expect(parseDiscordShards(" 4, 2 , 0-1 /6")).toEqual({ ids: [0, 1, 2, 4], count: 6 });
    expect(shardOptions({ ids: [1], count: 2 })).toEqual({ shards: [1], shardCount: 2 });
    expect(shardOptions({ ids: "auto" })).toEqual({ shards: "auto" });
    expect(shardOptions(undefined)).toEqual({});
  });

  it("refuses ids outside the total, backwards ranges, and no total, naming the problem", () => {
    expect(parseDiscordShards("2/2")).toBe("shard 2 is outside 0–1 (the total is 2)");
    expect(parseDiscordShards("3-1/4")).toBe("the range 3-1 runs backwards");
    expect(parseDiscordShards("0-3")).toMatch(/must be "auto" or shard ids with the total/);
    expect(parseDiscordShards("0/0")).toMatch(/the total must be/);
    expect(() => loadConfig({ DISCORD_SHARDS: "5/4" })).toThrow(/DISCORD_SHARDS.*shard 5 is outside 0–3/s);
    expect(loadConfig({ DISCORD_SHARDS: "" }).DISCORD_SHARDS).toBeUndefined();
  });
});

describe("two adapter processes splitting the shards", () => {
  let sim: DiscordSimulator;
  let config: Config;
  let runner: ModelRunner;
  let h: Harness;
  const events: GenerationEvent[] = [];
  const procs: ChildProcess[] = [];
  const output: string[] = [];

  function startAdapter(shards: string): ChildProcess {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "bin/start.ts")], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/root",
        REDIS_URL: config.REDIS_URL,
        REDIS_PREFIX: config.REDIS_PREFIX,
        DISCORD_TOKEN: "fake-token-for-sim",
        DISCORD_API_URL: sim.apiBase,
        DISCORD_SHARDS: shards,
        EXTERNAL_WORKERS: "true",
        USER_MESSAGES_PER_MINUTE: "0",
        LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout!.on("data", (d: Buffer) => output.push(`[${shards}] ${d}`));
    child.stderr!.on("data", (d: Buffer) => output.push(`[${shards}] ${d}`));
    procs.push(child);
    return child;
  }

  beforeAll(async () => {
    sim = await DiscordSimulator.start({ botUserId: BOT, recommendedShards: 2, maxConcurrency: 2, heartbeatIntervalMs: 500 });
    sim.addGuild({ id: G0, name: "zero", channels: [{ id: C0, name: "general", type: 0 }], members: [{ user: ALICE }] });
    sim.addGuild({ id: G1, name: "one", channels: [{ id: C1, name: "general", type: 0 }], members: [{ user: ALICE }] });
    sim.addDmChannel({ id: DM, user: ALICE });
    config = await testConfig({ DISCORD_TOKEN: "fake-token-for-sim", DISCORD_API_URL: sim.apiBase, CONTEXT_SIZE: "4096" });
    runner = await loadTinyRunner(config);
    h = new Harness(config, runner);
    const w = await h.startWorker({ sinks: { discord: createDiscordSink(config, h.logger, { redis: h.redis, keys: h.keys }) } });
    w.worker.on("generation", (e) => events.push(e));
  }, 60_000);

  afterAll(async () => {
    for (const p of procs) p.kill("SIGTERM");
    await Promise.all(procs.map((p) => (p.exitCode === null ? new Promise((r) => p.once("exit", r)) : undefined)));
    await h?.close();
    await runner?.close();
    await sim?.stop();
  });

  it("answers every question in both guilds and the DM exactly once, each on its own shard's process", async () => {
    startAdapter("0/2");
    startAdapter("1/2");
    const live = () => sim.liveShards.map((s) => JSON.stringify(s)).sort();
    await sim
      .waitFor(
        () => live().join() === "[0,2],[1,2]" && output.join("").split("discord adapter ready").length === 3,
        90_000,
        "both shards ready",
      )
      .catch((err) => {
        throw new Error(`${err}\n${output.join("")}`);
      });
    // Bulk command registration: once, by shard 0's process.
    const registrations = sim.requests.filter((r) => r.method === "PUT" && /\/applications\/\d+\/commands$/.test(r.path));
    expect(registrations.length).toBe(1);

    const asked = [
      ...[1, 2, 3].map(() => sim.userSays({ channelId: C0, author: ALICE, content: `<@${BOT}> zero`, mentionsBot: true })),
      ...[1, 2, 3].map(() => sim.userSays({ channelId: C1, author: ALICE, content: `<@${BOT}> one`, mentionsBot: true })),
      sim.userSays({ channelId: DM, author: ALICE, content: "a direct message", mentionsBot: false }),
    ];
    const replyTo = (id: string) =>
      [C0, C1, DM].flatMap((c) => sim.messages(c)).filter((m) => m.authorId === BOT && m.messageReference?.message_id === id);
    await sim
      .waitFor(() => events.length >= asked.length, 120_000, "every answer")
      .catch((err) => {
        const replies = asked.map((q) => replyTo(q.id).map((m) => m.content.slice(0, 40)));
        throw new Error(`${err}\nanswers: ${events.length}; replies: ${JSON.stringify(replies)}\n${output.join("").slice(-6000)}`);
      });
    for (const q of asked) expect(replyTo(q.id).length).toBe(1);
    // One answer per question (no second process answered the same one), in the right guild.
    expect(events.length).toBe(asked.length);
    expect(new Set(events.map((e) => e.request.requestId)).size).toBe(asked.length);
    expect(events.filter((e) => e.request.conversationKey.startsWith(`discord:${G0}:`)).length).toBe(3);
    expect(events.filter((e) => e.request.conversationKey.startsWith(`discord:${G1}:`)).length).toBe(3);
  }, 240_000);
});
