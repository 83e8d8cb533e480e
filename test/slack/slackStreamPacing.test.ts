/**
 * Ten replies streaming at once in one workspace, through two sink instances (two worker
 * processes sharing the budgets in Redis) and real ReplyStreamers, against the Slack simulator
 * with Slack's rate tiers on. Text grows steadily (a word every 100 ms per reply) so the pacing,
 * not the model, decides when the user sees it.
 *
 * Slack documents Tier 4 (`chat.appendStream`) as "100+ per minute ... generous burst behavior",
 * per method, per app, per workspace: a floor, not a ceiling. Ten replies updated every 2 s need
 * 300 appends a minute. So:
 * - where the workspace grants what the bot is configured for (SLACK_STREAM_UPDATES_PER_MINUTE,
 *   400 by default; the simulator set to allow exactly that), every reply is updated at least
 *   every 2 s, without a single 429;
 * - where Slack holds the bot to the documented floor (100 a minute, counted over 6 s so that it
 *   bites within the test), the bot gets a few 429s, waits them out, halves its rate down towards
 *   the floor, and every final text still lands whole; each reply is then updated about every 6 s.
 * The per-reply gaps measured are logged (LOG_PACING=1) for the report.
 */
import { randomUUID } from "node:crypto";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createSlackSink, type SlackSink } from "../../adapters/slack/SlackSink.ts";
import { loadConfig } from "../../src/config.ts";
import { Keys } from "../../src/keys.ts";
import { createLogger } from "../../src/logger.ts";
import { createRedis } from "../../src/redisConnection.ts";
import { ReplyStreamer } from "../../src/stream/ReplyStreamer.ts";
import { escapeSlackMarkdown } from "../../src/text/escapeMentions.ts";
import type { ReplyTarget } from "../../src/types.ts";
import { testRedisUrl } from "../helpers/testRedis.ts";
import { simWebClient } from "../sim/slack/clients.ts";
import { SlackSimulator } from "../sim/slack/SlackSimulator.ts";

const TOKEN = "xoxb-T1-pacingtest";
const REPLIES = 10;
const logger = createLogger({ level: "silent" });
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let sim: SlackSimulator | undefined;
let redis: Redis;
const prefixes: string[] = [];

beforeAll(() => {
  redis = createRedis(testRedisUrl(), "worker");
});

afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

afterAll(async () => {
  for (const prefix of prefixes) {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  redis.disconnect();
});

async function startSim(): Promise<SlackSimulator> {
  sim = await SlackSimulator.start({ teams: [{ id: "T1" }], rateTiers: "new" });
  sim.setMethodLimit("chat.update", { perMinute: 50 });
  for (let i = 0; i < REPLIES; i++) sim.addUser("T1", { id: `U${i}` });
  return sim;
}

function sinks(env: Record<string, string>, streamBudgetWindowMs?: number): SlackSink[] {
  const prefix = `qbt-${randomUUID().slice(0, 8)}`;
  prefixes.push(prefix);
  const c = loadConfig({ SLACK_BOT_TOKEN: TOKEN, SLACK_API_URL: sim!.apiUrl, REDIS_PREFIX: prefix, LOG_LEVEL: "silent", ...env });
  const options = streamBudgetWindowMs !== undefined ? { streamBudgetWindowMs } : {};
  return [0, 1].map(() => createSlackSink(c, logger, redis, new Keys(prefix), options));
}

async function placeholders(): Promise<ReplyTarget[]> {
  const client = simWebClient(sim!, TOKEN);
  return Promise.all(
    Array.from({ length: REPLIES }, async (_, i) => {
      const channel = `C-pace${i}`;
      const parent = await client.chat.postMessage({ channel, text: `question ${i}` });
      const reply = await client.chat.postMessage({ channel, thread_ts: parent.ts ?? "", text: "⏳ Thinking…" });
      return {
        platform: "slack",
        channelId: channel,
        threadId: parent.ts,
        messageId: reply.ts,
        workspaceId: "T1",
        userId: `U${i}`,
      } as ReplyTarget;
    }),
  );
}

interface Run {
  targets: ReplyTarget[];
  texts: string[];
  streamers: ReplyStreamer[];
}

/** Ten replies growing by a word every 100 ms for `ms`, through two sinks; then all finished. */
async function streamTen(pair: SlackSink[], ms: number): Promise<Run> {
  const targets = await placeholders();
  const streamers = targets.map((t, i) => new ReplyStreamer(pair[i % 2]!, [t], { intervalMs: 1000, logger, finalDeadlineMs: 120_000 }));
  const texts = targets.map(() => "");
  const started = Date.now();
  for (let n = 0; Date.now() - started < ms; n++) {
    for (let i = 0; i < REPLIES; i++) {
      texts[i] += `w${i}x${n} `;
      streamers[i]!.update(texts[i]!);
    }
    await sleep(100);
  }
  await Promise.all(streamers.map((s, i) => s.finish(`${texts[i]!}end.`)));
  return { targets, texts, streamers };
}

/** For each reply: the times (simulator side) its stream was updated (appends and the stop), and the largest gap. */
function updateGaps(run: Run): Array<{ updates: number; maxGapMs: number; gaps: number[] }> {
  return run.targets.map((t) => {
    const start = sim!.calls("chat.startStream").find((c) => c.ok && c.params.thread_ts === t.threadId)!;
    const ts = (start.response as { ts: string }).ts;
    const times = sim!
      .calls()
      .filter(
        (c) =>
          c.ok && c.params.ts === ts && (c.method === "chat.appendStream" || c.method === "chat.stopStream" || c.method === "chat.update"),
      )
      .map((c) => c.time);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    return { updates: times.length, maxGapMs: Math.max(0, ...gaps), gaps };
  });
}

function expectEveryFinal(run: Run): void {
  for (let i = 0; i < REPLIES; i++) {
    const t = run.targets[i]!;
    const replies = sim!.thread("T1", t.channelId, t.threadId!).filter((m) => m.reply);
    expect(replies).toHaveLength(1);
    expect(replies[0]!.stream?.state).toBe("stopped");
    // Streamed whole (Markdown, escaped) — or, after a fault, set whole with chat.update: every word once.
    const shown = replies[0]!.text;
    for (const word of [`w${i}x0 `, `w${i}x5 `, "end."]) expect(shown.split(word).length - 1).toBe(1);
    expect([escapeSlackMarkdown(`${run.texts[i]!}end.`)]).toContain(shown);
  }
}

describe("ten replies streaming at once in one workspace", () => {
  it("where the workspace grants the configured rate (400 appends a minute): every reply updated about every 1.5 s (9 gaps in 10 within 2 s, none over 3 s), no 429", async () => {
    await startSim();
    sim!.setMethodLimit("chat.appendStream", { perMinute: 400 });
    // The pacing gives each of the ten replies an update every 1.5 s; the 2 s bound is on that
    // design, so time this process could not run at all (a loaded CI machine, measured as the
    // event loop's worst delay) is added to it rather than counted against the pacing.
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    const run = await streamTen(sinks({}), 16_000);
    lag.disable();
    const stalledMs = lag.max / 1e6;
    const gaps = updateGaps(run);
    if (process.env.LOG_PACING) console.info("granted 400/min:", JSON.stringify(gaps), "event-loop stall", stalledMs);
    expectEveryFinal(run);
    expect(sim!.rateLimited()).toEqual([]);
    // Every reply is updated about every 1.5 s (1.5–1.84 s gaps on a quiet machine): nine gaps in
    // ten within 2 s, and none over 3 s even on a loaded machine (one CI run saw a 2.3 s gap).
    const all = gaps.flatMap((g) => g.gaps).sort((a, b) => a - b);
    const p90 = all[Math.floor(all.length * 0.9)] ?? 0;
    const why = `event loop stalled up to ${Math.round(stalledMs)} ms; gaps ${JSON.stringify(gaps.map((g) => g.maxGapMs))}`;
    expect(p90, why).toBeLessThanOrEqual(2000 + stalledMs);
    for (const g of gaps) {
      expect(g.updates).toBeGreaterThanOrEqual(8);
      expect(g.maxGapMs, why).toBeLessThanOrEqual(3000 + stalledMs);
    }
    // The two processes together kept to the budget: at most 400 a minute, evenly spaced.
    expect(sim!.maxCallsInWindow("chat.appendStream", "T1", 10_000)).toBeLessThanOrEqual(68);
    // The edit budget (Tier 3) saw only the placeholders' "answering below" and their deletion.
    expect(sim!.calls("chat.update").filter((c) => c.ok).length + sim!.calls("chat.delete").length).toBeLessThanOrEqual(2 * REPLIES);
  });

  it("where Slack holds the bot to the documented floor (100 a minute): 429s waited out, the rate halved to the floor, every final lands", async () => {
    await startSim();
    // 100 a minute, counted over 6 s (10 per 6 s: less burst than a minute's window would allow); the
    // bot's budget over the same window: 40 per 6 s (its default 400 a minute), floor 10 (100 a minute).
    sim!.setMethodLimit("chat.appendStream", { limit: 10, windowMs: 6000 });
    const pair = sinks({ SLACK_STREAM_UPDATES_PER_MINUTE: "40" }, 6000);
    const run = await streamTen(pair, 20_000);
    const gaps = updateGaps(run);
    const limited = sim!.rateLimited("chat.appendStream").length;
    if (process.env.LOG_PACING) console.info("floor 100/min:", limited, "429s;", JSON.stringify(gaps));
    expectEveryFinal(run);
    expect(limited).toBeGreaterThanOrEqual(1);
    // Adaptive: after the first 429s the bot slows down instead of hammering (a handful, not one per reply per window).
    expect(limited).toBeLessThanOrEqual(8);
    expect(await pair[0]!.streamBudget.currentLimit("T1")).toBeLessThan(40);
    for (const g of gaps) expect(g.updates).toBeGreaterThanOrEqual(3);
  });
});
