/**
 * Ingest outcomes that need a broken connection, against the real Redis: the message reaches the
 * inbox but the BullMQ add fails ("queued-unsignalled", not a refusal), and Redis down altogether
 * (a REDIS_UNAVAILABLE refusal with the shared text, never a thrown error).
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { INTAKE_TEXT } from "../../../src/intake/intakeMessages.ts";
import { Keys } from "../../../src/keys.ts";
import { createChatQueue, Ingestor } from "../../../src/queue/Ingestor.ts";
import { createRedis } from "../../../src/redisConnection.ts";
import type { ChatRequest } from "../../../src/types.ts";

const redis = new Redis("redis://127.0.0.1:6379");
const dead = createRedis("redis://127.0.0.1:1", "producer");
const keys = new Keys(`qbt-ingo-${randomUUID().slice(0, 8)}`);

afterAll(async () => {
  const all = await redis.keys(`${keys.prefix}:*`);
  if (all.length) await redis.del(...all);
  redis.disconnect();
  dead.disconnect();
});

function request(conversationKey: string): ChatRequest {
  const id = randomUUID();
  return {
    requestId: `local-${id}`,
    conversationKey,
    author: { id: "u", name: "u" },
    text: "hello",
    receivedAt: Date.now(),
    reply: { platform: "local", channelId: "room", messageId: id },
  };
}

describe("Ingestor outcomes with broken connections", () => {
  it("the inbox append succeeds but the job add fails: queued-unsignalled, with the place in line", async () => {
    // The inbox is on the real Redis; the producer queue points at a port nobody listens on.
    const ingestor = new Ingestor(redis, createChatQueue(dead, keys), keys, { maxInputChars: 100 });
    const conv = "local:unsignalled";
    const first = await ingestor.ingest(request(conv));
    const second = await ingestor.ingest(request(conv));
    expect(first).toMatchObject({ status: "queued-unsignalled", ahead: 0 });
    expect(second).toMatchObject({ status: "queued-unsignalled", ahead: 1 });
    expect(await redis.zcard(keys.inbox(conv))).toBe(2);
    // The sweeper's worklist has it, so the workers find it without the signal.
    expect(await redis.sismember(keys.inboxes, conv)).toBe(1);
  });

  it("Redis down: a REDIS_UNAVAILABLE refusal with the shared text, not an exception", async () => {
    const ingestor = new Ingestor(dead, createChatQueue(dead, keys), keys, { maxInputChars: 100 });
    const outcome = await ingestor.ingest(request("local:down"));
    expect(outcome).toMatchObject({ status: "refused", code: "REDIS_UNAVAILABLE", userMessage: INTAKE_TEXT.unavailable });
  });

  it("check refuses empty and over-long texts with their codes, and passes the rest", () => {
    const ingestor = new Ingestor(dead, createChatQueue(dead, keys), keys, { maxInputChars: 5 });
    expect(ingestor.check("   ")).toMatchObject({ status: "refused", code: "EMPTY_MESSAGE" });
    expect(ingestor.check("123456")).toMatchObject({ status: "refused", code: "MESSAGE_TOO_LONG" });
    expect(ingestor.check("12345")).toBeNull();
  });
});
