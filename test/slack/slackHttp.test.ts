/**
 * The Slack adapter in HTTP mode (Bolt's HTTPReceiver on loopback), driven with requests signed like
 * Slack's, against the Slack simulator and the real Redis (no worker: this file checks what gets
 * queued, and what does not). Also: usage, /reset, refusals, Redis down, ignored messages.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { stringify } from "node:querystring";
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { UNAVAILABLE, USAGE } from "../../adapters/slack/SlackConversations.ts";
import { STOP_ACTION_ID } from "../../adapters/slack/slackMessages.ts";
import { type SlackAdapter, startSlackAdapter } from "../../adapters/slack/startSlackAdapter.ts";
import { type Config, loadConfig } from "../../src/config.ts";
import type { AdapterDeps } from "../../src/intake/AdapterDeps.ts";
import { Keys } from "../../src/keys.ts";
import { createLogger } from "../../src/logger.ts";
import { ConversationMemory } from "../../src/memory/ConversationMemory.ts";
import { createChatQueue, Ingestor, ingestOptionsFrom } from "../../src/queue/Ingestor.ts";
import { connectRedis, createRedis } from "../../src/redisConnection.ts";
import type { ChatRequest } from "../../src/types.ts";
import { testRedisUrl } from "../helpers/testRedis.ts";
import { postSigned, SlackSimulator, waitFor } from "../sim/slack/SlackSimulator.ts";

const SECRET = "http-mode-signing-secret";
const REDIS_URL = testRedisUrl();
const logger = createLogger({ level: "silent" });

let sim: SlackSimulator;
let config: Config;
let redis: Redis;
let keys: Keys;
let queue: Queue;
let adapter: SlackAdapter;
const extra: Array<{ close(): Promise<void> }> = [];
const extraRedis: Redis[] = [];

function depsWith(r: Redis): AdapterDeps {
  return {
    config,
    logger,
    redis: r,
    keys,
    ingestor: new Ingestor(r, queue, keys, ingestOptionsFrom(config, { rateLimit: true })),
    memory: new ConversationMemory(r, keys, config.MEMORY_TTL_SECONDS),
  };
}

beforeAll(async () => {
  sim = await SlackSimulator.start();
  config = loadConfig({
    SLACK_BOT_TOKEN: "xoxb-T1-httptest",
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_API_URL: sim.apiUrl,
    REDIS_PREFIX: `qbt-${randomUUID().slice(0, 8)}`,
    USER_MESSAGES_PER_MINUTE: "2",
    LOG_LEVEL: "silent",
  });
  redis = createRedis(REDIS_URL, "producer");
  await connectRedis(redis, REDIS_URL);
  keys = new Keys(config.REDIS_PREFIX);
  queue = createChatQueue(redis, keys);
  adapter = await startSlackAdapter(depsWith(redis), { port: 0, host: "127.0.0.1" });
});

afterAll(async () => {
  for (const a of extra) await a.close();
  await adapter?.close();
  await sim?.stop();
  await queue?.close();
  const left = await redis.keys(`${config.REDIS_PREFIX}:*`);
  if (left.length > 0) await redis.del(...left);
  redis?.disconnect();
  for (const r of extraRedis) r.disconnect();
});

/**
 * Every key but BullMQ's own: earlier tests' jobs still move through the queue's keys in the
 * background, while anything a request writes (claim, dedupe, inbox, request, reply) is outside them.
 */
const allKeys = async () =>
  (await redis.keys(`${config.REDIS_PREFIX}:*`)).filter((k) => !k.startsWith(`${config.REDIS_PREFIX}:bull:`)).sort();
const inboxes = async () =>
  (await redis.keys(`${config.REDIS_PREFIX}:inbox:*`)).map((k) => k.slice(`${config.REDIS_PREFIX}:inbox:`.length)).sort();

function command(text: string, user = "U1", channel = "C1", name = "/ask"): string {
  return stringify(
    sim.buildSlashCommandPayload("T1", { command: name, text, user_id: user, channel_id: channel }) as Record<string, string>,
  );
}

/** The queued request (its place is reserved before the placeholder is posted; it is complete once attached). */
async function storedRequest(requestId: string): Promise<ChatRequest> {
  const raw = await waitFor(async () => {
    const r = await redis.get(keys.request(requestId));
    return r && (JSON.parse(r) as Partial<ChatRequest>).reply ? r : undefined;
  });
  return JSON.parse(raw) as ChatRequest;
}

describe("HTTP mode: request signatures", () => {
  it("accepts a correctly signed /ask: question posted as a thread parent, placeholder with Stop in the thread, request queued", async () => {
    expect(adapter.mode).toBe("http");
    expect(adapter.ready()).toBe(true);
    const res = await postSigned(adapter.url!, command("Why is the sky blue? <!channel>"), { secret: SECRET });
    expect(res.status).toBe(200);
    const [parent, placeholder] = await waitFor(() => {
      const list = sim.messages("T1", "C1");
      return list.length === 2 ? list : undefined;
    });
    expect(parent!.text).toBe("<@U1> asked:\n> Why is the sky blue? @\u2060channel");
    expect(parent!.reply).toBe(false);
    expect(placeholder!.thread_ts).toBe(parent!.ts);
    expect(placeholder!.text).toBe("⏳ Thinking…");
    const button = (placeholder!.blocks as Array<{ type: string; elements?: Array<{ action_id: string; value: string }> }>).find(
      (b) => b.type === "actions",
    )!.elements![0]!;
    expect(button.action_id).toBe(STOP_ACTION_ID);
    expect(button.value).toMatch(/^slack-T1-cmd-/);
    const request = await storedRequest(button.value);
    expect(request).toMatchObject({
      conversationKey: `slack:T1:C1:${parent!.ts}`,
      author: { id: "U1" },
      text: "Why is the sky blue? @channel",
      reply: { platform: "slack", channelId: "C1", threadId: parent!.ts, messageId: placeholder!.ts, workspaceId: "T1" },
    });
    expect(await redis.zrange(keys.inbox(request.conversationKey), 0, -1)).toEqual([button.value]);
  });

  it("answers 401 to forged, missing, stale and future-dated signatures, and nothing is queued or posted", async () => {
    const before = await allKeys();
    const posts = sim.calls("chat.postMessage").length;
    const stale = Math.floor(Date.now() / 1000) - 6 * 60;
    const future = Math.floor(Date.now() / 1000) + 6 * 60;
    const mention = sim.buildEventPayload("T1", {
      type: "app_mention",
      user: "U1",
      text: "<@U0BOT> hi",
      ts: "1700000000.000100",
      channel: "C2",
    });
    const dm = sim.buildEventPayload("T1", {
      type: "message",
      channel_type: "im",
      user: "U1",
      text: "hello",
      ts: "1700000000.000200",
      channel: "D2",
    });
    for (const body of [command("forged?", "U2", "C2"), mention, dm]) {
      for (const bad of [
        await postSigned(adapter.url!, body, { secret: SECRET, forge: true }),
        await postSigned(adapter.url!, body, { secret: SECRET, omit: "signature" }),
        await postSigned(adapter.url!, body, { secret: SECRET, omit: "timestamp" }),
        await postSigned(adapter.url!, body, { secret: SECRET, omit: "both" }),
        await postSigned(adapter.url!, body, { secret: SECRET, timestamp: stale }),
        await postSigned(adapter.url!, body, { secret: SECRET, timestamp: future }),
      ]) {
        expect(bad.status).toBe(401);
      }
    }
    expect(await allKeys()).toEqual(before);
    expect(sim.calls("chat.postMessage")).toHaveLength(posts);
    // Within five minutes either way is accepted (Slack's tolerance for clock skew).
    const skewed = Math.floor(Date.now() / 1000) + 4 * 60;
    expect((await postSigned(adapter.url!, command("", "U2", "C2"), { secret: SECRET, timestamp: skewed })).status).toBe(200);
    // The same mention, signed correctly, is taken.
    expect((await postSigned(adapter.url!, mention, { secret: SECRET })).status).toBe(200);
    await waitFor(async () => (await inboxes()).includes("slack:T1:C2:1700000000.000100"));
  });

  it("an event delivered twice (X-Slack-Retry-Num), plus the message event of the same mention, gives one reply", async () => {
    sim.setHttpDelivery({ url: adapter.url!, signingSecret: SECRET });
    try {
      const sent = sim.userMentions("T1", { channel: "C3", user: "U3", text: "once only" });
      expect((await sent.event.waitAck()).status).toBe(200);
      expect((await sent.messageEvent!.waitAck()).status).toBe(200);
      expect((await sim.redeliver(sent.event).waitAck()).status).toBe(200);
      const requestId = `slack-T1-C3-${sent.ts}`;
      await storedRequest(requestId);
      expect((await sim.redeliver(sent.event, { retryReason: "http_error" }).waitAck()).status).toBe(200);
      // A sentinel after the duplicates: once it is answered, the duplicates were long handled.
      const sentinel = sim.userMentions("T1", { channel: "C3", user: "U3", text: "sentinel", alsoMessageEvent: false });
      await storedRequest(`slack-T1-C3-${sentinel.ts}`);
      expect(sim.thread("T1", "C3", sent.ts, { includeDeleted: true }).filter((m) => m.user === "U0BOT")).toHaveLength(1);
      expect(await redis.zrange(keys.inbox(`slack:T1:C3:${sent.ts}`), 0, -1)).toEqual([requestId]);
    } finally {
      sim.setHttpDelivery(undefined);
    }
  });
});

describe("commands and refusals", () => {
  it("/ask without text explains the usage, privately, in the ack", async () => {
    const res = await postSigned(adapter.url!, command("   ", "U4", "C4"), { secret: SECRET });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ response_type: "ephemeral", text: USAGE });
    expect(sim.messages("T1", "C4")).toHaveLength(0);
  });

  it("/reset and /ask reset forget the user's latest conversation in the channel, and say what was reset", async () => {
    const responses = () =>
      sim
        .ephemerals("T1", "C5")
        .filter((e) => e.via === "response_url")
        .map((e) => e.text);
    expect((await postSigned(adapter.url!, command("", "U5", "C5", "/reset"), { secret: SECRET })).status).toBe(200);
    await waitFor(() => responses().length === 1);
    expect(responses()[0]).toMatch(/^I have no recent conversation of yours in this channel/);

    await postSigned(adapter.url!, command("remember this", "U5", "C5"), { secret: SECRET });
    const parent = await waitFor(() => sim.messages("T1", "C5").find((m) => !m.reply));
    const conv = `slack:T1:C5:${parent.ts}`;
    await waitFor(async () => (await inboxes()).includes(conv));
    await redis.rpush(keys.turns(conv), JSON.stringify({ role: "user", text: "remember this", at: 1 }));
    await postSigned(adapter.url!, command("reset", "U5", "C5"), { secret: SECRET });
    await waitFor(() => responses().length === 2);
    expect(responses()[1]).toMatch(/^🧹 Done — I've forgotten our conversation in <https:\/\/[^|]+\|this thread>\.$/);
    expect(await redis.exists(keys.turns(conv))).toBe(0);
    expect(await redis.get(keys.epoch(conv))).toBe("1");
    expect(sim.messages("T1", "C5").filter((m) => !m.reply)).toHaveLength(1); // "/ask reset" asked nothing

    // Inside a thread, "@bot reset" clears that thread, visibly for everyone in it.
    sim.setHttpDelivery({ url: adapter.url!, signingSecret: SECRET });
    try {
      const sent = sim.userMentions("T1", { channel: "C5", user: "U6", text: "reset", threadTs: parent.ts });
      await sent.event.waitAck();
      await waitFor(() => sim.thread("T1", "C5", parent.ts).some((m) => m.text.startsWith("🧹 Done")));
      expect(await redis.get(keys.epoch(conv))).toBe("2");
    } finally {
      sim.setHttpDelivery(undefined);
    }
  });

  it("refuses politely: over the per-user rate, and an empty mention; a refused message gets no placeholder", async () => {
    sim.setHttpDelivery({ url: adapter.url!, signingSecret: SECRET });
    try {
      const sends = [1, 2, 3].map((n) =>
        sim.userMentions("T1", { channel: "C7", user: "U7", text: `question ${n}`, alsoMessageEvent: false }),
      );
      for (const s of sends) await s.event.waitAck();
      const refusal = await waitFor(() => sim.ephemerals("T1", "C7").find((e) => e.user === "U7"));
      expect(refusal.text).toMatch(/faster than I can answer/);
      expect(refusal.via).toBe("api");
      expect(refusal.thread_ts).toBeDefined();
      const queued = (await inboxes()).filter((c) => c.startsWith("slack:T1:C7:"));
      expect(queued).toHaveLength(2);
      // Two placeholders (one per queued question); the refused one never got one (refused before posting).
      await waitFor(() => sim.messages("T1", "C7").filter((m) => m.user === "U0BOT").length === 2);
      expect(sim.messages("T1", "C7", { includeDeleted: true }).filter((m) => m.user === "U0BOT" && m.deleted)).toHaveLength(0);

      const empty = sim.userMentions("T1", { channel: "C8", user: "U8", text: "", alsoMessageEvent: false });
      await empty.event.waitAck();
      const told = await waitFor(() => sim.ephemerals("T1", "C8").find((e) => e.user === "U8"));
      expect(told.text).toMatch(/empty/);
      expect(told.thread_ts).toBe(empty.ts);
      expect(sim.messages("T1", "C8").filter((m) => m.user === "U0BOT")).toHaveLength(0);
    } finally {
      sim.setHttpDelivery(undefined);
    }
  });

  it("ignores other bots, edits, deletes and plain channel chatter; answers a DM", async () => {
    sim.setHttpDelivery({ url: adapter.url!, signingSecret: SECRET });
    try {
      const ignored = [
        sim.userMessage("T1", { channel: "D9", user: "U9", text: "from another bot", botId: "B0OTHER" }),
        sim.userMessage("T1", { channel: "D9", user: "U9", text: "bot message", subtype: "bot_message", botId: "B0OTHER" }),
        sim.userMessage("T1", { channel: "D9", user: "U9", text: "joined", subtype: "channel_join" }),
        sim.userMessage("T1", { channel: "C9", user: "U9", text: "just chatting, no mention" }),
      ];
      const edit = sim.sendEvent("T1", {
        type: "message",
        subtype: "message_changed",
        channel: "D9",
        channel_type: "im",
        hidden: true,
        message: { type: "message", user: "U9", text: "edited text", ts: "1700000000.000900" },
        previous_message: { type: "message", user: "U9", text: "text", ts: "1700000000.000900" },
        ts: "1700000001.000000",
      });
      for (const e of [...ignored.map((i) => i.event), edit]) expect((await e.waitAck()).status).toBe(200);
      const dm = sim.userMessage("T1", { channel: "D9", user: "U9", text: "hello bot" });
      const request = await storedRequest(`slack-T1-D9-${dm.ts}`);
      expect(request.conversationKey).toBe("slack:T1:D9:dm");
      expect(request.reply.threadId).toBe(dm.ts);
      expect((await inboxes()).filter((c) => c.includes(":D9:") || c.includes(":C9:"))).toEqual(["slack:T1:D9:dm"]);
      expect(sim.messages("T1", "C9").filter((m) => m.user === "U0BOT")).toHaveLength(0);
    } finally {
      sim.setHttpDelivery(undefined);
    }
  });

  it("when Redis is down, says so instead of staying silent", async () => {
    const down = createRedis("redis://127.0.0.1:1", "producer");
    extraRedis.push(down);
    const broken = await startSlackAdapter(depsWith(down), { port: 0, host: "127.0.0.1" });
    extra.push(broken);
    await postSigned(broken.url!, command("anyone there?", "U10", "C10"), { secret: SECRET });
    const viaCommand = await waitFor(() => sim.ephemerals("T1", "C10").find((e) => e.user === "U10"));
    expect(viaCommand.text).toBe(UNAVAILABLE);
    const mention = sim.buildEventPayload("T1", {
      type: "app_mention",
      user: "U11",
      text: "<@U0BOT> hello?",
      ts: "1700000000.001100",
      channel: "C10",
    });
    expect((await postSigned(broken.url!, mention, { secret: SECRET })).status).toBe(200);
    const viaMention = await waitFor(() => sim.ephemerals("T1", "C10").find((e) => e.user === "U11"));
    expect(viaMention.text).toBe(UNAVAILABLE);
    expect(sim.messages("T1", "C10")).toHaveLength(0);
  });
});

describe("app manifest", () => {
  it("creates the app in one step: Socket Mode, interactivity, every command, the AI side panel, the scopes and events the adapter uses", () => {
    const manifest = readFileSync(new URL("../../adapters/slack/manifest.yml", import.meta.url), "utf8");
    const live = manifest
      .split("\n")
      .filter((l) => !l.trim().startsWith("#"))
      .join("\n");
    expect(live).toMatch(/^\s+socket_mode_enabled: true$/m);
    expect(live).toMatch(/interactivity:\n(?:\s+.*\n)*?\s+is_enabled: true/);
    for (const command of ["/ask", "/reset", "/ask-help", "/ask-settings", "/imagine"]) expect(live).toContain(`- command: ${command}\n`);
    const list = (section: string) =>
      [...new RegExp(`${section}:\\n((?:\\s+- .*\\n?)+)`).exec(live)![1]!.matchAll(/- (\S+)/g)].map((m) => m[1]);
    expect(list("bot").sort()).toEqual([
      "app_mentions:read",
      "assistant:write",
      "channels:history",
      "chat:write",
      "commands",
      "files:read",
      "files:write",
      "groups:history",
      "im:history",
      "mpim:history",
      "users:read",
    ]);
    expect(list("bot_events").sort()).toEqual([
      "app_mention",
      "assistant_thread_context_changed",
      "assistant_thread_started",
      "message.channels",
      "message.groups",
      "message.im",
      "message.mpim",
    ]);
    expect(live).toMatch(/messages_tab_enabled: true/);
    // The AI side panel, with prompts the way Slack's manifest takes them.
    const view = parse(manifest).features.assistant_view as { assistant_description: string; suggested_prompts: unknown[] };
    expect(view.assistant_description.length).toBeGreaterThan(10);
    for (const p of view.suggested_prompts) expect(Object.keys(p as object).sort()).toEqual(["message", "title"]);
  });
});
