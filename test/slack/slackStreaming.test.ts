/**
 * Native streaming through the Slack sink and the real ReplyStreamer, against the Slack simulator
 * and the real Redis: what a streamed reply looks like, the per-workspace fallback to `chat.update`
 * (latched in Redis, retried later), and every fault the issue names — 429 with Retry-After,
 * `message_not_in_streaming_state`, a network drop after Slack stored the call, a stream Slack
 * closed, a workspace without the feature, a token without the scopes, a worker that died
 * mid-stream — each ending with the complete reply, nothing duplicated.
 */
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FEATURE_RETRY_SECONDS } from "../../adapters/slack/SlackFeatures.ts";
import { createSlackSink, type SlackSink } from "../../adapters/slack/SlackSink.ts";
import { INTERRUPTED_STREAM_NOTE } from "../../adapters/slack/SlackStreams.ts";
import { renderSlackNote, slackTextWithNote } from "../../adapters/slack/slackMessages.ts";
import { type Config, loadConfig } from "../../src/config.ts";
import { PlatformRateLimitedError } from "../../src/errors.ts";
import { Keys, SlackKeys } from "../../src/keys.ts";
import { createLogger } from "../../src/logger.ts";
import { createRedis } from "../../src/redisConnection.ts";
import { ReplyStreamer } from "../../src/stream/ReplyStreamer.ts";
import { escapeSlackMarkdown } from "../../src/text/escapeMentions.ts";
import type { ReplyTarget } from "../../src/types.ts";
import { testRedisUrl } from "../helpers/testRedis.ts";
import { simWebClient } from "../sim/slack/clients.ts";
import { SlackSimulator, STREAMING_METHODS } from "../sim/slack/SlackSimulator.ts";

const TOKEN = "xoxb-T1-streamtest";
const logger = createLogger({ level: "silent" });
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let sim: SlackSimulator;
let redis: Redis;
const prefixes: string[] = [];

beforeAll(async () => {
  sim = await SlackSimulator.start({ teams: [{ id: "T1" }], rateTiers: "off" });
  sim.addUser("T1", { id: "U1" });
  redis = createRedis(testRedisUrl(), "worker");
});

afterEach(() => {
  sim.enableMethods("T1");
  sim.setScopes("T1", undefined);
});

afterAll(async () => {
  for (const prefix of prefixes) {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  redis.disconnect();
  await sim.stop();
});

function config(env: Record<string, string> = {}): Config {
  const prefix = `qbt-${randomUUID().slice(0, 8)}`;
  prefixes.push(prefix);
  return loadConfig({ SLACK_BOT_TOKEN: TOKEN, SLACK_API_URL: sim.apiUrl, REDIS_PREFIX: prefix, LOG_LEVEL: "silent", ...env });
}

function sinkFor(c: Config): SlackSink {
  return createSlackSink(c, logger, redis, new Keys(c.REDIS_PREFIX), { budgetWindowMs: 600 });
}

let seq = 0;
/** What the adapter leaves for a worker: a question, and its placeholder (with the asker) in the question's thread. */
async function placeholder(channel = `C-s${++seq}`, user = "U1"): Promise<ReplyTarget> {
  const client = simWebClient(sim, TOKEN);
  const parent = await client.chat.postMessage({ channel, text: "question" });
  const reply = await client.chat.postMessage({ channel, thread_ts: parent.ts ?? "", text: "⏳ Thinking…" });
  return {
    platform: "slack",
    channelId: channel,
    threadId: parent.ts ?? "",
    messageId: reply.ts ?? "",
    workspaceId: "T1",
    requestId: `slack-T1-${channel}-${parent.ts}`,
    userId: user,
  };
}

function streamer(sink: SlackSink, targets: ReplyTarget[]): ReplyStreamer {
  return new ReplyStreamer(sink, targets, { intervalMs: 20, logger, finalDeadlineMs: 20_000 });
}

/** Feeds `text` word by word, letting the streamer deliver in between. */
async function feed(s: ReplyStreamer, text: string, from = 0, everyWords = 3): Promise<void> {
  const words = text.split(/(?<=\s)/);
  for (let i = from; i < words.length; i += everyWords) {
    s.update(words.slice(0, i + everyWords).join(""));
    await sleep(30);
  }
}

/** The bot's messages in a thread, the question first (deleted ones left out). */
const botReplies = (t: ReplyTarget) => sim.thread("T1", t.channelId, t.threadId!).filter((m) => m.reply);
const streamsIn = (t: ReplyTarget) => sim.calls("chat.startStream").filter((c) => c.ok && c.params.thread_ts === t.threadId);

const ANSWER =
  "Redis keeps **data in memory**. Ping <!here> or <@U999> and @channel stay text.\n\n```js\nconst x = 1 < 2;\n```\n\nThat is all, folks.";

describe("the streaming path", () => {
  it("starts an empty stream for the asker, appends deltas cut after whitespace, stops with the rest and the note; the placeholder goes", async () => {
    const sink = sinkFor(config());
    const target = await placeholder();
    await sink.rememberRequest(target, target.requestId!);
    const s = streamer(sink, [target]);
    await feed(s, ANSWER);
    await s.finish(ANSWER, "stopped");

    const [start] = streamsIn(target);
    expect(start!.params).toMatchObject({
      channel: target.channelId,
      thread_ts: target.threadId,
      recipient_user_id: "U1",
      recipient_team_id: "T1",
    });
    expect(start!.params.markdown_text).toBeUndefined();
    const ts = (start!.response as { ts: string }).ts;
    const streamed = sim.message("T1", target.channelId, ts)!;
    expect(streamed.stream?.state).toBe("stopped");
    expect(streamed.text).toBe(escapeSlackMarkdown(ANSWER) + escapeSlackMarkdown(renderSlackNote("stopped")));
    expect(streamed.text).not.toMatch(/<[!@#]/);
    expect(streamed.stream!.appends).toBeGreaterThanOrEqual(3);
    // Each version grew the one before: nothing was replaced, nothing appended twice.
    for (let i = 1; i < streamed.versions.length; i++) expect(streamed.versions[i]!.startsWith(streamed.versions[i - 1]!)).toBe(true);
    // The splitter's closing fence never went out while the code block was still open.
    const open = streamed.versions.filter((v) => v.includes("const x") && !v.includes("That"));
    for (const v of open) expect(v.split("```").length - 1).toBeLessThanOrEqual(2);
    expect(streamed.text.split("```").length - 1).toBe(2);
    // The stream message was never edited; the placeholder (with its Stop button) is gone.
    expect(sim.calls("chat.update").filter((c) => c.params.ts === ts)).toEqual([]);
    expect(sim.message("T1", target.channelId, target.messageId)?.deleted).toBe(true);
    expect(botReplies(target).map((m) => m.ts)).toEqual([ts]);
    expect(s.targets).toEqual([target]);
  });

  it("a reply whose first delivery is already final is edited in place (one call, no stream)", async () => {
    const sink = sinkFor(config());
    const target = await placeholder();
    await streamer(sink, [target]).finish("Short.");
    expect(streamsIn(target)).toEqual([]);
    expect(sim.message("T1", target.channelId, target.messageId)!.text).toBe("Short.");
  });

  it("a long reply continues in follow-up streams; every paragraph lands exactly once", async () => {
    const sink = sinkFor(config());
    const target = await placeholder();
    const text = Array.from({ length: 30 }, (_, i) => `Paragraph ${i}: ${"lorem ipsum dolor sit amet ".repeat(8)}`).join("\n\n");
    const s = streamer(sink, [target]);
    for (let n = 400; n < text.length; n += 700) {
      s.update(text.slice(0, n));
      await sleep(40);
    }
    await s.finish(text);
    const replies = botReplies(target);
    expect(replies.length).toBeGreaterThanOrEqual(2);
    // The placeholder stays the reply's first target (its stream is found through it); the follow-ups are streams themselves.
    expect(s.targets.slice(1).map((t) => t.messageId)).toEqual(replies.slice(1).map((m) => m.ts));
    const all = replies.map((m) => m.text).join("\n");
    for (let i = 0; i < 30; i++) expect(all.split(`Paragraph ${i}:`).length - 1).toBe(1);
    for (const m of replies) expect(m.stream?.state ?? "stopped").toBe("stopped");
  });
});

describe("a workspace without the feature, a token without the scopes", () => {
  it.each(["unknown_method", "feature_not_enabled", "missing_scope"])(
    "%s: the reply is edited in place; the refusal is latched in Redis for every process, and tried again once it expires",
    async (error) => {
      const c = config();
      const sink = sinkFor(c);
      sim.disableMethods("T1", STREAMING_METHODS, error);
      const first = await placeholder();
      let s = streamer(sink, [first]);
      await feed(s, ANSWER);
      await s.finish(ANSWER);
      expect(sim.calls("chat.startStream").filter((x) => x.params.thread_ts === first.threadId)).toHaveLength(1);
      expect(sim.message("T1", first.channelId, first.messageId)!.text).toBe(slackTextWithNote(ANSWER, undefined));
      const latch = new SlackKeys(new Keys(c.REDIS_PREFIX)).featureOff("T1", "streaming");
      expect(await redis.get(latch)).toBe(error);
      const ttl = await redis.ttl(latch);
      expect(ttl).toBeGreaterThan(FEATURE_RETRY_SECONDS - 30);

      // Another process: not even one failed call.
      const second = await placeholder();
      s = streamer(sinkFor({ ...c }), [second]);
      await feed(s, ANSWER);
      await s.finish(ANSWER);
      expect(sim.calls("chat.startStream").filter((x) => x.params.thread_ts === second.threadId)).toEqual([]);
      expect(sim.message("T1", second.channelId, second.messageId)!.text).toBe(slackTextWithNote(ANSWER, undefined));

      // The latch expires (the app was fixed meanwhile): the next reply streams again.
      await redis.del(latch);
      sim.enableMethods("T1");
      const third = await placeholder();
      s = streamer(sinkFor({ ...c }), [third]);
      await feed(s, ANSWER);
      await s.finish(ANSWER);
      expect(streamsIn(third)).toHaveLength(1);
    },
  );

  it("a stream start refused for this reply alone (429, no recipient) is not latched", async () => {
    const c = config();
    const sink = sinkFor(c);
    sim.failNext("chat.startStream", { status: 429, retryAfterSec: 30 });
    const target = await placeholder();
    const s = streamer(sink, [target]);
    await feed(s, ANSWER);
    await s.finish(ANSWER);
    expect(sim.message("T1", target.channelId, target.messageId)!.text).toBe(slackTextWithNote(ANSWER, undefined));
    expect(await redis.exists(new SlackKeys(new Keys(c.REDIS_PREFIX)).featureOff("T1", "streaming"))).toBe(0);
    const next = await placeholder();
    const s2 = streamer(sink, [next]);
    await feed(s2, ANSWER);
    await s2.finish(ANSWER);
    expect(streamsIn(next)).toHaveLength(1);
  });

  it("the thread status needs no new scope to be refused gracefully: missing_scope latches it, replies still land", async () => {
    const c = config();
    const sink = sinkFor(c);
    sim.disableMethods("T1", ["assistant.threads.setStatus"], "missing_scope");
    const target = await placeholder();
    await sink.queued(target, 2);
    // The placeholder's own update may be "not now" (the edit budget's next slot): the status was set before it.
    await sink.queued(target, 1).catch((err: unknown) => {
      if (!(err instanceof PlatformRateLimitedError)) throw err;
    });
    expect(sim.calls("assistant.threads.setStatus").filter((x) => x.params.thread_ts === target.threadId)).toHaveLength(1);
    const s = streamer(sink, [target]);
    await feed(s, ANSWER);
    await s.finish(ANSWER);
    expect(botReplies(target).at(-1)!.text).toBe(escapeSlackMarkdown(ANSWER));
  });
});

describe("faults mid-reply", () => {
  /** Streams half of ANSWER, runs `fault`, streams the rest and finishes; returns the answer's messages. */
  async function streamWith(fault: (target: ReplyTarget, streamTs: string) => void, note?: string) {
    const sink = sinkFor(config());
    const target = await placeholder();
    const s = streamer(sink, [target]);
    const words = ANSWER.split(/(?<=\s)/);
    const half = Math.floor(words.length / 2);
    await feed(s, words.slice(0, half).join(""));
    await sleep(100);
    const ts = (streamsIn(target)[0]!.response as { ts: string }).ts;
    fault(target, ts);
    await feed(s, ANSWER, half);
    await s.finish(ANSWER, note);
    return { sink, target, ts, s, message: sim.message("T1", target.channelId, ts)! };
  }

  it("429 with Retry-After on an append: waited out, the workspace's stream budget slows down, nothing duplicated", async () => {
    const { sink, message, s } = await streamWith(() => sim.failNext("chat.appendStream", { status: 429, retryAfterSec: 1 }));
    expect(s.rateLimited).toBeGreaterThanOrEqual(1);
    expect(await sink.streamBudget.currentLimit("T1")).toBeLessThan(sink.streamBudget.limit);
    expect(message.stream?.state).toBe("stopped");
    expect(message.text).toBe(escapeSlackMarkdown(ANSWER));
  });

  it.each([
    [
      "message_not_in_streaming_state answered",
      (_t: ReplyTarget) => sim.failNext("chat.appendStream", { error: "message_not_in_streaming_state" }),
    ],
    ["a stream Slack closed on its side (expired)", (t: ReplyTarget, ts: string) => sim.expireStream("T1", t.channelId, ts)],
    [
      "a network drop after Slack stored the append",
      () => sim.failNext("chat.appendStream", { hang: true, hangMs: 100, afterCommit: true }),
    ],
    ["a 500 after Slack stored the append", () => sim.failNext("chat.appendStream", { status: 500, afterCommit: true })],
  ])("%s: the message is completed with chat.update, every word once", async (_name, fault) => {
    const { message, target, ts } = await streamWith(fault, "stopped");
    expect(message.text).toBe(slackTextWithNote(ANSWER, "stopped"));
    expect(message.text.split("Redis keeps").length).toBe(2);
    expect(message.text.split("That is all").length).toBe(2);
    expect(message.stream?.state).not.toBe("streaming");
    expect(sim.calls("chat.update").filter((c) => c.params.ts === ts && c.ok).length).toBeGreaterThanOrEqual(1);
    expect(botReplies(target).map((m) => m.ts)).toEqual([ts]);
  });

  it("stopStream answering 429, then 500 after storing it: retried, and the final text lands exactly once", async () => {
    const sink = sinkFor(config());
    const target = await placeholder();
    const s = streamer(sink, [target]);
    await feed(s, ANSWER);
    sim.failNext("chat.stopStream", { status: 429, retryAfterSec: 1 });
    sim.failNext("chat.stopStream", { status: 500, afterCommit: true });
    await s.finish(ANSWER, "stopped");
    const ts = (streamsIn(target)[0]!.response as { ts: string }).ts;
    const m = sim.message("T1", target.channelId, ts)!;
    expect([escapeSlackMarkdown(ANSWER) + escapeSlackMarkdown(renderSlackNote("stopped")), slackTextWithNote(ANSWER, "stopped")]).toContain(
      m.text,
    );
    expect(m.text.split("That is all").length).toBe(2);
    expect(m.text.split("stopped").length).toBe(2);
    expect(sim.message("T1", target.channelId, target.messageId)?.deleted).toBe(true);
  });
});

describe("a worker that died mid-stream", () => {
  it("the retry ends the dead stream with a note and streams the answer below it; one final answer", async () => {
    const c = config();
    const target = await placeholder();
    const dead = streamer(sinkFor(c), [target]);
    await feed(dead, "The first attempt wrote this much before its worker died. ");
    const deadTs = (streamsIn(target)[0]!.response as { ts: string }).ts;
    // Its last append landed, then the worker died (nothing of it runs any more).
    await sim.waitFor(() => sim.message("T1", target.channelId, deadTs)?.text.includes("died."));

    // Another process takes the job over (same placeholder, new attempt).
    const retry = streamer(sinkFor({ ...c }), [target]);
    await feed(retry, ANSWER);
    await retry.finish(ANSWER);

    const old = sim.message("T1", target.channelId, deadTs)!;
    expect(old.stream?.state).toBe("stopped");
    expect(old.text.startsWith("The first attempt wrote")).toBe(true);
    expect(old.text.endsWith(escapeSlackMarkdown(renderSlackNote(INTERRUPTED_STREAM_NOTE)))).toBe(true);
    const replies = botReplies(target);
    expect(replies.map((m) => m.ts)[0]).toBe(deadTs);
    expect(replies).toHaveLength(2);
    expect(replies[1]!.text).toBe(escapeSlackMarkdown(ANSWER));
    expect(sim.message("T1", target.channelId, target.messageId)?.deleted).toBe(true);
  });

  it("a worker shut down mid-stream ends its stream with the note under a closed code block; the next worker streams below", async () => {
    const c = config();
    const target = await placeholder();
    const first = streamer(sinkFor(c), [target]);
    const partial = "Here it comes:\n\n```js\nconst a = 1;\nconst b = ";
    await feed(first, partial);
    const note = "interrupted by a worker restart — resuming shortly…";
    await first.interim(partial, note);
    const deadTs = (streamsIn(target)[0]!.response as { ts: string }).ts;
    const ended = sim.message("T1", target.channelId, deadTs)!;
    expect(ended.stream?.state).toBe("stopped");
    expect(ended.text).toBe(escapeSlackMarkdown(`${partial}\n\`\`\``) + escapeSlackMarkdown(renderSlackNote(note)));

    const retry = streamer(sinkFor({ ...c }), [target]);
    await feed(retry, ANSWER);
    await retry.finish(ANSWER);
    expect(sim.message("T1", target.channelId, deadTs)!.text).toBe(ended.text);
    const replies = botReplies(target);
    expect(replies.map((m) => m.ts)).toEqual([deadTs, replies[1]!.ts]);
    expect(replies[1]!.text).toBe(escapeSlackMarkdown(ANSWER));
  });

  it("a retry that delivers an answer decided before the crash makes the dead stream that answer; a third delivery sends nothing", async () => {
    const c = config();
    const target = await placeholder();
    const dead = streamer(sinkFor(c), [target]);
    await feed(dead, ANSWER.slice(0, 40));
    await sleep(100);
    const deadTs = (streamsIn(target)[0]!.response as { ts: string }).ts;

    await streamer(sinkFor({ ...c }), [target]).finish(ANSWER, "stopped");
    const replies = botReplies(target);
    expect(replies.map((m) => m.ts)).toEqual([deadTs]);
    expect(replies[0]!.text).toBe(slackTextWithNote(ANSWER, "stopped"));
    expect(replies[0]!.stream?.state).toBe("stopped");

    const calls = sim.calls().length;
    await streamer(sinkFor({ ...c }), [target]).finish(ANSWER, "stopped");
    expect(
      sim
        .calls()
        .slice(calls)
        .filter((x) => x.method.startsWith("chat.") && x.method !== "chat.delete"),
    ).toEqual([]);
    expect(botReplies(target)).toHaveLength(1);
  });
});
