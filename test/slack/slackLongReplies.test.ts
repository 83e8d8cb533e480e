/**
 * Long Slack replies whose text grows when converted to mrkdwn (`&`, `<`, `>` escaped): the real
 * ReplyStreamer and SlackSink against the Slack simulator. Every message is at most 4,000
 * characters as sent, in every version, and the split points do not move while the reply
 * streams or at its final edit (no text jumps between messages).
 */
import { randomUUID } from "node:crypto";
import { webApi } from "@slack/bolt";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSlackSink } from "../../adapters/slack/SlackSink.ts";
import { PLACEHOLDER_TEXT, slackReplyText } from "../../adapters/slack/slackMessages.ts";
import { loadConfig } from "../../src/config.ts";
import { Keys } from "../../src/keys.ts";
import { createLogger } from "../../src/logger.ts";
import { createRedis } from "../../src/redisConnection.ts";
import { ReplyStreamer } from "../../src/stream/ReplyStreamer.ts";
import { SLACK_MAX_LENGTH, splitMessageParts } from "../../src/text/splitMessage.ts";
import { splitToFit } from "../../src/text/splitToFit.ts";
import type { ReplyTarget } from "../../src/types.ts";
import { testRedisUrl } from "../helpers/testRedis.ts";
import { SlackSimulator } from "../sim/slack/SlackSimulator.ts";

const TOKEN = "xoxb-T1-longreplies";
const logger = createLogger({ level: "silent" });
const prefix = `qbt-${randomUUID().slice(0, 8)}`;

let sim: SlackSimulator;
let redis: Redis;

beforeAll(async () => {
  sim = await SlackSimulator.start();
  redis = createRedis(testRedisUrl(), "worker");
});

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  await sim.stop();
});

/** An answer about HTML and C: most lines are full of characters mrkdwn escapes. */
function escapeHeavyAnswer(paragraphs: number): string {
  const out: string[] = [];
  for (let i = 0; i < paragraphs; i++) {
    const lines = Array.from({ length: 6 }, (_, j) => `<div class="p${i}"> a < b && c > d & e <${j}> &amp; </div>`);
    out.push(`Step ${i}: compare & escape.\n${lines.join("\n")}`);
  }
  return out.join("\n\n");
}

describe("long replies on Slack", () => {
  it("splitToFit: every chunk fits once converted to mrkdwn, nothing lost", () => {
    const text = escapeHeavyAnswer(60);
    const measure = (t: string) => slackReplyText(t).length;
    // The Markdown split alone sends messages far over the limit once escaped.
    expect(Math.max(...splitMessageParts(text, SLACK_MAX_LENGTH - 200).map((p) => measure(p.text)))).toBeGreaterThan(5000);
    const parts = splitToFit(text, SLACK_MAX_LENGTH - 200, measure);
    for (const p of parts) expect(measure(p.text)).toBeLessThanOrEqual(SLACK_MAX_LENGTH - 200);
    expect(parts.map((p) => p.text).join("")).toBe(text);
  });

  it("streamed through the sink: nothing over 4,000 characters, and no text moves between messages", async () => {
    const c = loadConfig({
      SLACK_BOT_TOKEN: TOKEN,
      SLACK_API_URL: sim.apiUrl,
      REDIS_PREFIX: prefix,
      LOG_LEVEL: "silent",
      SLACK_STREAMING: "false",
    });
    const sink = createSlackSink(c, logger, redis, new Keys(prefix), { budgetWindowMs: 600 });
    const client = new webApi.WebClient(TOKEN, { slackApiUrl: sim.apiUrl, logLevel: webApi.LogLevel.ERROR });
    const parent = await client.chat.postMessage({ channel: "C-esc", text: "question" });
    const ph = await client.chat.postMessage({ channel: "C-esc", thread_ts: parent.ts ?? "", text: PLACEHOLDER_TEXT });
    const target: ReplyTarget = {
      platform: "slack",
      channelId: "C-esc",
      threadId: parent.ts ?? "",
      messageId: ph.ts ?? "",
      workspaceId: "T1",
    };
    await sink.rememberRequest(target, "slack-T1-C-esc-1");
    const text = escapeHeavyAnswer(80);
    const s = new ReplyStreamer(sink, [target], { intervalMs: 10, logger, finalDeadlineMs: 30_000 });
    for (let n = 400; n < text.length; n += 700) {
      s.update(text.slice(0, n));
      await new Promise((r) => setTimeout(r, 40));
    }
    await s.finish(text);
    const replies = sim.thread("T1", "C-esc", target.threadId!).filter((m) => m.reply);
    expect(replies.length).toBeGreaterThanOrEqual(8);
    for (const m of replies) {
      const shown = m.versions.filter((v) => v !== PLACEHOLDER_TEXT);
      expect(shown.length).toBeGreaterThan(0);
      for (const v of shown) {
        expect(v.length).toBeLessThanOrEqual(SLACK_MAX_LENGTH);
        // Each earlier version is the start of the final one: the message only grew, none of its text moved on.
        expect(m.text.startsWith(v.replace(/…$/, ""))).toBe(true);
      }
    }
    // Nothing lost: every step, in order, exactly once.
    const all = replies.map((m) => m.text).join("\n");
    for (let i = 0; i < 80; i++) expect(all.split(`Step ${i}:`).length - 1).toBe(1);
  });
});
