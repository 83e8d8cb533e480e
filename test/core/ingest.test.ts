/** Ingest against the real Redis: dedupe, per-user rate limit, per-conversation pending cap, each a typed outcome. */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Keys } from "../../src/keys.ts";
import { createChatQueue, type IngestOutcome, Ingestor, type IngestQueued, type IngestRefusal } from "../../src/queue/Ingestor.ts";
import type { ChatRequest } from "../../src/types.ts";
import { testRedisUrl } from "../helpers/testRedis.ts";

const redis = new Redis(testRedisUrl());
const keys = new Keys(`qbt-ing-${randomUUID().slice(0, 8)}`);
const queue = createChatQueue(redis, keys);

afterAll(async () => {
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  const all = await redis.keys(`${keys.prefix}:*`);
  if (all.length) await redis.del(...all);
  redis.disconnect();
});

let n = 0;
function request(over: Partial<ChatRequest> = {}): ChatRequest {
  n++;
  return {
    requestId: `discord-${randomUUID()}`,
    conversationKey: "discord:g1:c1",
    author: { id: "user-1", name: "ann" },
    text: `message ${n}`,
    receivedAt: Date.now(),
    reply: { platform: "discord", channelId: "c1", messageId: `m${n}` },
    ...over,
  };
}

async function rejection(p: Promise<IngestOutcome>): Promise<IngestRefusal> {
  const outcome = await p;
  expect(outcome.status).toBe("refused");
  return outcome as IngestRefusal;
}

async function queued(p: Promise<IngestOutcome>): Promise<IngestQueued> {
  const outcome = await p;
  expect(outcome.status).toBe("queued");
  return outcome as IngestQueued;
}

describe("Ingestor", () => {
  beforeAll(async () => {
    await queue.waitUntilReady();
  });

  it("a redelivered platform message is queued once", async () => {
    const ing = new Ingestor(redis, queue, keys, { maxInputChars: 100 });
    const r = request({ conversationKey: "discord:g1:dupe" });
    await ing.ingest(r);
    const err = await rejection(ing.ingest({ ...r }));
    expect(err.code).toBe("DUPLICATE_MESSAGE");
    expect(await redis.zcard(keys.inbox("discord:g1:dupe"))).toBe(1);
  });

  it("reports how many messages are ahead in the conversation and adds one job per conversation", async () => {
    const ing = new Ingestor(redis, queue, keys, { maxInputChars: 100 });
    const conv = "discord:g1:line";
    const a = await queued(ing.ingest(request({ conversationKey: conv })));
    const b = await queued(ing.ingest(request({ conversationKey: conv })));
    const c = await queued(ing.ingest(request({ conversationKey: conv })));
    expect([a.ahead, b.ahead, c.ahead]).toEqual([0, 1, 2]);
    const jobs = (await queue.getJobs(["waiting", "delayed", "prioritized"])).filter((j) => j.data.conversationKey === conv);
    expect(jobs).toHaveLength(1);
  });

  it("answers a user over the per-minute limit politely, and does not count refused messages", async () => {
    const ing = new Ingestor(redis, queue, keys, { maxInputChars: 100, userMessagesPerMinute: 3 });
    const author = { id: `fast-${randomUUID()}`, name: "fast" };
    for (let i = 0; i < 3; i++) await ing.ingest(request({ author, conversationKey: `discord:g1:rate${i}` }));
    const err = await rejection(ing.ingest(request({ author, conversationKey: "discord:g1:rate9" })));
    expect(err.code).toBe("RATE_LIMITED");
    expect(err.userMessage).toMatch(/faster than I can answer/);
    expect(await redis.zcard(keys.inbox("discord:g1:rate9"))).toBe(0);
    // Another user is not affected.
    await ing.ingest(request({ author: { id: "other", name: "o" }, conversationKey: "discord:g1:rate9" }));
  });

  it("caps the messages waiting in one conversation", async () => {
    const ing = new Ingestor(redis, queue, keys, { maxInputChars: 100, maxPendingPerConversation: 2 });
    const conv = "discord:g1:cap";
    await ing.ingest(request({ conversationKey: conv }));
    await ing.ingest(request({ conversationKey: conv }));
    const r = request({ conversationKey: conv });
    const err = await rejection(ing.ingest(r));
    expect(err.code).toBe("QUEUE_FULL");
    expect(err.userMessage).toMatch(/already has 2 messages waiting/);
    // The refused message was not remembered as seen: once there is room, it can be sent again.
    await redis.zpopmin(keys.inbox(conv));
    await ing.ingest(r);
  });

  it("refuses empty, whitespace-only and over-long messages before touching Redis", async () => {
    const ing = new Ingestor(redis, queue, keys, { maxInputChars: 10 });
    expect((await rejection(ing.ingest(request({ conversationKey: "discord:g1:bad", text: "" })))).code).toBe("EMPTY_MESSAGE");
    expect((await rejection(ing.ingest(request({ conversationKey: "discord:g1:bad", text: " \n\t " })))).code).toBe("EMPTY_MESSAGE");
    // Only whitespace and invisible format characters: empty too, even when the adapter did not normalize it.
    for (const text of [" \u200b\u200b \t\n ", "\u3000\u3000", "\u200e\u200f\u2060\ufeff\u180e"])
      expect((await rejection(ing.ingest(request({ conversationKey: "discord:g1:bad", text })))).code).toBe("EMPTY_MESSAGE");
    const long = await rejection(ing.ingest(request({ conversationKey: "discord:g1:bad", text: "x".repeat(11) })));
    expect(long.code).toBe("MESSAGE_TOO_LONG");
    expect(long.userMessage).toContain("10");
    expect(await redis.exists(keys.inbox("discord:g1:bad"))).toBe(0);
  });
});
