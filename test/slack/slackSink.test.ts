/**
 * The Slack reply sink against the Slack simulator, with the real ReplyStreamer: mrkdwn and
 * escapes, the Stop button while streaming, long replies split into thread messages, 429s, and
 * the per-workspace edit budget shared across sink instances (processes) through Redis.
 */
import { randomUUID } from "node:crypto";
import { webApi } from "@slack/bolt";
import type { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createSlackSink, type SlackSink } from "../../adapters/slack/SlackSink.ts";
import {
  askedMessage,
  fromSlackText,
  renderSlackNote,
  STOP_ACTION_ID,
  slackReplyText,
  slackTextWithNote,
} from "../../adapters/slack/slackMessages.ts";
import { type Config, loadConfig } from "../../src/config.ts";
import { PlatformRateLimitedError } from "../../src/errors.ts";
import { Keys } from "../../src/keys.ts";
import { createLogger } from "../../src/logger.ts";
import { createRedis } from "../../src/redisConnection.ts";
import { ReplyStreamer } from "../../src/stream/ReplyStreamer.ts";
import { SLACK_MAX_LENGTH } from "../../src/text/splitMessage.ts";
import type { ReplyTarget } from "../../src/types.ts";
import { testRedisUrl } from "../helpers/testRedis.ts";
import { SlackSimulator } from "../sim/slack/SlackSimulator.ts";

const T1_TOKEN = "xoxb-T1-sinktest";
const T2_TOKEN = "xoxb-T2-sinktest";
const logger = createLogger({ level: "silent" });

let sim: SlackSimulator;
let redis: Redis;
const prefixes: string[] = [];

beforeAll(async () => {
  sim = await SlackSimulator.start({ teams: [{ id: "T1" }, { id: "T2", botUserId: "U2BOT", botId: "B2BOT" }] });
  redis = createRedis(testRedisUrl(), "worker");
});

afterEach(() => {
  sim.clearMethodLimit("chat.update");
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
  return loadConfig({ SLACK_BOT_TOKEN: T1_TOKEN, SLACK_API_URL: sim.apiUrl, REDIS_PREFIX: prefix, LOG_LEVEL: "silent", ...env });
}

/** A sink; the budget window is shrunk from a minute so that tests run fast (the limit is SLACK_EDITS_PER_MINUTE per window). */
function sinkFor(c: Config, budgetWindowMs = 600): SlackSink {
  return createSlackSink(c, logger, redis, new Keys(c.REDIS_PREFIX), { budgetWindowMs });
}

/** Most successful calls within any `windowMs` span, among `calls`. */
function maxInWindow(calls: Array<{ ok: boolean; time: number }>, windowMs: number): number {
  const times = calls
    .filter((c) => c.ok)
    .map((c) => c.time)
    .sort((x, y) => x - y);
  let best = 0;
  for (let end = 0, start = 0; end < times.length; end++) {
    while (times[end]! - times[start]! >= windowMs) start++;
    best = Math.max(best, end - start + 1);
  }
  return best;
}

/** A placeholder the adapter would have posted: a thread parent and a reply in its thread. */
async function placeholder(channel: string, team = "T1", token = T1_TOKEN): Promise<ReplyTarget> {
  const client = new webApi.WebClient(token, { slackApiUrl: sim.apiUrl, logLevel: webApi.LogLevel.ERROR });
  const parent = await client.chat.postMessage({ channel, text: "question" });
  const reply = await client.chat.postMessage({ channel, thread_ts: parent.ts ?? "", text: "⏳ Thinking…" });
  return { platform: "slack", channelId: channel, threadId: parent.ts ?? "", messageId: reply.ts ?? "", workspaceId: team };
}

function streamer(sink: SlackSink, target: ReplyTarget): ReplyStreamer {
  return new ReplyStreamer(sink, [target], { intervalMs: 10, logger, finalDeadlineMs: 30_000 });
}

describe("text", () => {
  it("converts Markdown to mrkdwn and never lets model output ping anyone, in text and in blocks", async () => {
    const c = config();
    const sink = sinkFor(c);
    const target = await placeholder("C-esc");
    await sink.rememberRequest(target, "slack-T1-C-esc-1");
    const evil =
      "**Bold** and [docs](https://example.com/a?b=1&c=2)\n# Title\nHey <!channel> <!here> <!everyone> <@U123> <@W9|boss> <#C42> <!subteam^S1|@team>, @here @channel @everyone";
    await sink.edit(target, evil, { final: false });
    const streaming = sim.message("T1", "C-esc", target.messageId)!;
    const sections =
      (streaming.blocks as Array<{ type: string; text?: { text: string }; elements?: Array<{ action_id: string; value: string }> }>) ?? [];
    const shown = [streaming.text, ...sections.filter((b) => b.type === "section").map((b) => b.text!.text)];
    await sink.edit(target, evil, { final: true });
    const final = sim.message("T1", "C-esc", target.messageId)!;
    shown.push(final.text);
    for (const text of shown) {
      expect(text).not.toMatch(/<[!@#]/);
      expect(text).toContain("&lt;!channel&gt;");
      expect(text).toContain("&lt;@U123&gt;");
      // "@here" words get an invisible word joiner after the "@".
      expect(text).not.toMatch(/@(?=here\b|channel\b|everyone\b)/);
      expect(text).toContain("@\u2060here");
    }
    expect(final.text).toContain("*Bold*");
    expect(final.text).toContain("<https://example.com/a?b=1&amp;c=2|docs>");
    expect(final.text).toContain("*Title*");
    // Nothing asked Slack to parse names or links.
    for (const call of sim.calls("chat.update")) {
      expect(call.params.link_names).toBeUndefined();
      expect(call.params.parse).toBeUndefined();
    }
    // While streaming: the text in sections, then the Stop button carrying the request id.
    const actions = sections.find((b) => b.type === "actions");
    expect(actions?.elements?.[0]).toMatchObject({ action_id: STOP_ACTION_ID, value: "slack-T1-C-esc-1" });
    // Final: the blocks are gone (the Stop button with them); the text is the whole answer.
    expect(final.blocks).toEqual([]);
    expect(final.text).toBe(slackReplyText(evil));
  });

  it("shows the note of an edit and of a follow-up post under its text", async () => {
    const sink = sinkFor(config());
    const target = await placeholder("C-note");
    await sink.edit(target, "the first part", { final: true, last: false });
    const posted = await sink.post(target, "the **rest**", { final: true, last: true, note: "stopped" });
    expect(sim.message("T1", "C-note", posted.messageId)!.text).toBe("the *rest*\n\n_(stopped)_");
    await sink.edit(target, "", { final: true, note: "Something went wrong." });
    expect(sim.message("T1", "C-note", target.messageId)!.text).toBe("_(Something went wrong.)_");
  });

  it("reads Slack-formatted user text as plain text, and echoes a question without pinging anyone", () => {
    expect(
      fromSlackText(
        "hi <@U1|alice> in <#C1|general>: see <https://x.org/a?b=1&amp;c=2|the docs> or <https://y.org> &lt;tag&gt; <!here> <!subteam^S1|@oncall>",
      ),
    ).toBe("hi @alice in #general: see the docs (https://x.org/a?b=1&c=2) or https://y.org <tag> @here @oncall");
    expect(fromSlackText("<@U2> & <mailto:a@b.c|a@b.c>")).toBe("@U2 & a@b.c (mailto:a@b.c)");
    expect(askedMessage("U1", "ping <!channel> and @here\nline <b>2</b>")).toBe(
      "<@U1> asked:\n> ping &lt;!channel&gt; and @\u2060here\n> line &lt;b&gt;2&lt;/b&gt;",
    );
  });

  it("renders notes under the answer in italics", () => {
    expect(slackReplyText(`Answer${renderSlackNote("stopped")}`)).toBe("Answer\n\n_(stopped)_");
    expect(slackReplyText(renderSlackNote("Stopped before it started."))).toBe("_(Stopped before it started.)_");
    expect(slackTextWithNote("Answer", "stopped")).toBe("Answer\n\n_(stopped)_");
    expect(slackTextWithNote("", "Stopped before it started.")).toBe("_(Stopped before it started.)_");
    expect(slackTextWithNote("Answer", undefined)).toBe("Answer");
  });

  it("never lets a note take a message past SLACK_MAX_LENGTH: it is shortened, or left out when nothing fits", () => {
    const note = "older messages of this conversation were left out to fit the model's memory";
    const near = slackTextWithNote("a".repeat(3950), note);
    expect(near).toHaveLength(SLACK_MAX_LENGTH);
    expect(near).toBe(`${"a".repeat(3950)}\n\n_(${note.slice(0, 43)}…)_`);
    expect(slackTextWithNote("b".repeat(3999), note)).toBe("b".repeat(3999));
    expect(slackReplyText("")).toBe("…");
  });
});

describe("place in line", () => {
  it("shows a waiting message's place in its placeholder, with the Stop button, when the budget has a slot free; else says when to ask again", async () => {
    const c = config({ SLACK_EDITS_PER_MINUTE: "2" });
    const sink = sinkFor(c, 60_000);
    const target = { ...(await placeholder("C-queue")), requestId: "slack-T1-C-queue-1" };
    await sink.queued(target, 2);
    const m = sim.message("T1", "C-queue", target.messageId)!;
    expect(m.text).toBe("⏳ Waiting — 2 messages ahead of yours in this conversation…");
    const blocks = m.blocks as Array<{ type: string; elements?: Array<{ value: string }> }>;
    expect(blocks.at(-1)?.elements?.[0]?.value).toBe("slack-T1-C-queue-1");
    // The next slot is half a minute away: not waited for, not dropped — "not now" (the PlaceNotifier asks again, coalesced).
    const err = await sink.queued(target, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformRateLimitedError);
    expect((err as PlatformRateLimitedError).retryAfterMs).toBeGreaterThan(1000);
    expect(sim.message("T1", "C-queue", target.messageId)?.edits).toBe(1);
  });
});

describe("generation starts after a wait", () => {
  it("a placeholder that showed its place in line says Thinking… again (Stop kept) when generation starts", async () => {
    const c = config();
    const sink = sinkFor(c);
    const target = { ...(await placeholder("C-started")), requestId: "slack-T1-C-started-1" };
    await sink.queued(target, 1);
    await new Promise((r) => setTimeout(r, 50));
    await sink.started(target);
    const m = sim.message("T1", "C-started", target.messageId)!;
    expect(m.versions.slice(-2)).toEqual(["⏳ Waiting — 1 message ahead of yours in this conversation…", "⏳ Thinking…"]);
    const blocks = m.blocks as Array<{ type: string; elements?: Array<{ value: string }> }>;
    expect(blocks.at(-1)?.elements?.[0]?.value).toBe("slack-T1-C-started-1");
  });
});

describe("long replies", () => {
  it("continue in thread messages of at most 4000 characters, fences balanced, nothing lost, no Stop button left", async () => {
    const c = config();
    const sink = sinkFor(c);
    const target = await placeholder("C-long");
    await sink.rememberRequest(target, "slack-T1-C-long-1");
    const parts: string[] = [];
    for (let i = 0; i < 60; i++) {
      parts.push(`Paragraph ${i}: ${"lorem ipsum dolor sit amet ".repeat(6)}`);
      if (i % 7 === 3)
        parts.push(["```ts", ...Array.from({ length: 25 }, (_, j) => `const v${i}_${j} = ${j} * 2; // line ${i}.${j}`), "```"].join("\n"));
    }
    const text = parts.join("\n\n");
    expect(text.length).toBeGreaterThan(12_000);
    const s = streamer(sink, target);
    // Stream it in pieces, as the model would.
    for (let n = 500; n < text.length; n += 1500) s.update(text.slice(0, n));
    await s.finish(text);
    const replies = sim.thread("T1", "C-long", target.threadId!).filter((m) => m.reply);
    expect(replies.length).toBeGreaterThanOrEqual(4);
    expect(s.targets.map((t) => t.messageId)).toEqual(replies.map((m) => m.ts));
    for (const m of replies) {
      expect(m.text.length).toBeLessThanOrEqual(4000);
      expect(m.text.split("\n").filter((l) => l.startsWith("```")).length % 2).toBe(0);
      expect(m.blocks === undefined || m.blocks.length === 0).toBe(true);
      expect(m.thread_ts).toBe(target.threadId);
    }
    // Every paragraph and code line arrived exactly once, in order.
    const all = replies.map((m) => m.text).join("\n");
    for (let i = 0; i < 60; i++) expect(all.split(`Paragraph ${i}:`).length - 1).toBe(1);
    const codeLines = all.split("\n").filter((l) => l.startsWith("const v"));
    expect(codeLines).toEqual(text.split("\n").filter((l) => l.startsWith("const v")));
  });
});

describe("rate limits", () => {
  it("a 429 surfaces as PlatformRateLimitedError(Retry-After), pushes the workspace's budget back, and the final still lands", async () => {
    const c = config();
    const sink = sinkFor(c);
    const target = await placeholder("C-429");
    sim.failNext("chat.update", { status: 429, retryAfterSec: 1 });
    const err = await sink.edit(target, "one", { final: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformRateLimitedError);
    expect((err as PlatformRateLimitedError).retryAfterMs).toBe(1000);
    // Every reply of the workspace now waits: the next slot is about a second away.
    expect(await sink.budget.confirm("T1")).toBeGreaterThan(500);
    expect(await sink.budget.confirm("T2")).toBe(0);

    const other = await placeholder("C-429");
    sim.failNext("chat.update", { status: 429, retryAfterSec: 1 });
    const s = streamer(sink, other);
    await s.finish("the final text");
    expect(s.rateLimited).toBe(1);
    expect(sim.message("T1", "C-429", other.messageId)?.text).toBe("the final text");
    expect(sim.rateLimited("chat.update")).toHaveLength(2);
  });

  it("edits of many replies, from two sink instances (two worker processes), stay within the workspace's budget; another workspace is not slowed", async () => {
    const c = config({ SLACK_EDITS_PER_MINUTE: "4", SLACK_BOT_TOKEN: `${T1_TOKEN},${T2_TOKEN}` });
    const a = sinkFor(c, 800);
    const b = sinkFor(c, 800);
    const targets = await Promise.all(["C-b1", "C-b2", "C-b3", "C-b4"].map((ch) => placeholder(ch)));
    const t2 = await placeholder("C-b1", "T2", T2_TOKEN);
    const before = sim.calls("chat.update", "T1").length;
    const runs = targets.map(async (target, i) => {
      const sink = i % 2 === 0 ? a : b;
      for (let n = 1; n <= 3; n++) {
        await sink.acquireBudget(target);
        await sink.edit(target, `edit ${n}`, { final: n === 3 });
      }
    });
    // T2 has its own budget: its edit does not queue behind T1's twelve.
    await a.acquireBudget(t2);
    await a.edit(t2, "workspace two", { final: true });
    expect(sim.calls("chat.update", "T1").length - before).toBeLessThan(12);
    await Promise.all(runs);
    expect(sim.calls("chat.update", "T1").length - before).toBe(12);
    expect(sim.rateLimited("chat.update")).toHaveLength(2); // only the two injected above
    const mine = sim.calls("chat.update", "T1").slice(before);
    expect(maxInWindow(mine, 800)).toBeLessThanOrEqual(4);
    // The check can fail: without the budget, the same edits go out in bursts.
    expect(maxInWindow(mine, 5000)).toBe(12);
    for (const t of targets) expect(sim.message("T1", t.channelId, t.messageId)?.text).toBe("edit 3");
    // The T2 edit went out with T2's token, into T2's channel of the same id.
    expect(sim.message("T2", "C-b1", t2.messageId)?.text).toBe("workspace two");
    expect(sim.calls("chat.update", "T2").at(-1)?.token).toBe(T2_TOKEN);
  });
});
