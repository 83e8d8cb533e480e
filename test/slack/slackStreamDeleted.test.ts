/**
 * An admin deletes a Slack answer while it streams natively (`chat.startStream` / `appendStream`):
 * the sink finds the stream gone (`message_not_found`) and throws ReplyGoneError, so the
 * ReplyStreamer stops for good (the worker stops generating) and nothing more is sent; the
 * stream's own message maps to its request, so the adapter's `message_deleted` stops it too.
 * The real SlackSink and ReplyStreamer against the Slack simulator and the real Redis.
 */
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSlackSink } from "../../adapters/slack/SlackSink.ts";
import { loadConfig } from "../../src/config.ts";
import { ReplyGoneError } from "../../src/errors.ts";
import { Keys, SlackKeys } from "../../src/keys.ts";
import { createLogger } from "../../src/logger.ts";
import { createRedis } from "../../src/redisConnection.ts";
import { ReplyStreamer } from "../../src/stream/ReplyStreamer.ts";
import type { ReplyTarget } from "../../src/types.ts";
import { testRedisUrl } from "../helpers/testRedis.ts";
import { simWebClient } from "../sim/slack/clients.ts";
import { SlackSimulator } from "../sim/slack/SlackSimulator.ts";

const TOKEN = "xoxb-T1-streamdeleted";
const logger = createLogger({ level: "silent" });
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const prefix = `qbt-${randomUUID().slice(0, 8)}`;
const ANSWER = "Redis keeps data in memory, and a stream grows word by word until it is done. That is all, folks.";

let sim: SlackSimulator;
let redis: Redis;

beforeAll(async () => {
  sim = await SlackSimulator.start({ teams: [{ id: "T1" }], rateTiers: "off" });
  sim.addUser("T1", { id: "U1" });
  redis = createRedis(testRedisUrl(), "worker");
});

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  await sim.stop();
});

const config = () => loadConfig({ SLACK_BOT_TOKEN: TOKEN, SLACK_API_URL: sim.apiUrl, REDIS_PREFIX: prefix, LOG_LEVEL: "silent" });
const sinkFor = (c: ReturnType<typeof config>) => createSlackSink(c, logger, redis, new Keys(c.REDIS_PREFIX), { budgetWindowMs: 600 });

async function placeholder(): Promise<ReplyTarget> {
  const client = simWebClient(sim, TOKEN);
  const parent = await client.chat.postMessage({ channel: "C-gone", text: "question" });
  const reply = await client.chat.postMessage({ channel: "C-gone", thread_ts: parent.ts ?? "", text: "⏳ Thinking…" });
  const target: ReplyTarget = {
    platform: "slack",
    channelId: "C-gone",
    threadId: parent.ts ?? "",
    messageId: reply.ts ?? "",
    workspaceId: "T1",
  };
  return { ...target, requestId: `slack-T1-C-gone-${parent.ts}`, userId: "U1" };
}

async function feed(s: ReplyStreamer, text: string, from = 0): Promise<void> {
  const words = text.split(/(?<=\s)/);
  for (let i = from; i < words.length; i += 3) {
    s.update(words.slice(0, i + 3).join(""));
    await sleep(30);
  }
}

describe("an admin deletes the streamed answer", () => {
  it("the next stream call answers message_not_found: the reply is gone (nothing more sent), and the stream's message led to its request", async () => {
    const c = config();
    const sink = sinkFor(c);
    const target = await placeholder();
    await sink.rememberRequest(target, target.requestId!);
    let gone = 0;
    const s = new ReplyStreamer(sink, [target], { intervalMs: 20, logger, finalDeadlineMs: 20_000, onGone: () => gone++ });
    const words = ANSWER.split(/(?<=\s)/);
    await feed(s, words.slice(0, 6).join(""));
    await sleep(100);
    const ts = (sim.calls("chat.startStream").find((x) => x.ok && x.params.thread_ts === target.threadId)!.response as { ts: string }).ts;
    // The stream's own message maps to the request: its message_deleted stops the reply in the adapter.
    expect(await redis.get(new SlackKeys(new Keys(c.REDIS_PREFIX)).messageRequest("T1", target.channelId, ts))).toBe(target.requestId!);
    sim.deleteMessage("T1", { channel: target.channelId, ts, by: "UADMIN" });
    const calls = sim.calls().length;
    await feed(s, ANSWER, 6);
    const err = await s.finish(ANSWER).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReplyGoneError);
    expect(s.replyGone).toBe(true);
    expect(gone).toBe(1);
    // After the one call that found it gone, nothing more was posted, streamed or edited.
    const after = sim
      .calls()
      .slice(calls)
      .filter((x) => x.method.startsWith("chat."));
    expect(after.length).toBeLessThanOrEqual(1);
    expect(after.every((x) => x.method === "chat.appendStream" || x.method === "chat.stopStream")).toBe(true);
  });
});
