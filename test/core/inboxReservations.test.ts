/**
 * The inbox protocol's two-step producer path (issue 12) against the real Redis: reserve fixes a
 * message's place before anything is posted (a burst gets 0…7), a reserved entry blocks its
 * conversation until attach (which lists the reply as open), release, or its expiry (then a
 * worker drops it, and a late attach does not bring it back); start and withdrawWaiting (Stop
 * while waiting) exclude each other.
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { Keys } from "../../src/keys.ts";
import { type AppendLimits, ConversationInbox, type ReservedRequest } from "../../src/queue/ConversationInbox.ts";
import { OpenReplies } from "../../src/queue/OpenReplies.ts";
import type { ChatRequest } from "../../src/types.ts";

const redis = new Redis("redis://127.0.0.1:6379");
const keys = new Keys(`qbt-reserve-${randomUUID().slice(0, 8)}`);
const inbox = new ConversationInbox(redis, keys);

afterAll(async () => {
  const all = await redis.keys(`${keys.prefix}:*`);
  if (all.length) await redis.del(...all);
  redis.disconnect();
});

const LIMITS: AppendLimits = { dedupeTtlSeconds: 600, requestTtlSeconds: 900, maxPendingPerConversation: 20, userMessagesPerMinute: 0 };

let n = 0;
function request(conversationKey: string): ChatRequest {
  n++;
  return {
    requestId: `local-${randomUUID()}`,
    conversationKey,
    author: { id: "user-1", name: "ann" },
    text: `message ${n}`,
    receivedAt: Date.now(),
    reply: { platform: "local", channelId: "room", messageId: `m${n}` },
  };
}

describe("reserve, attach, release", () => {
  const reservedOf = (r: ChatRequest): ReservedRequest => ({
    requestId: r.requestId,
    conversationKey: r.conversationKey,
    authorId: r.author.id,
    text: r.text,
    receivedAt: r.receivedAt,
  });

  it("a burst of 8 reserved at once gets places 0…7 in arrival order, before any placeholder exists", async () => {
    const conv = `local:burst-${randomUUID()}`;
    const burst = Array.from({ length: 8 }, () => request(conv));
    const outs = await Promise.all(burst.map((r) => inbox.reserve(reservedOf(r), LIMITS, 60_000)));
    expect(outs.map((o) => (o.kind === "queued" ? o.ahead : -1))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(await redis.zrange(keys.inbox(conv), 0, -1)).toEqual(burst.map((r) => r.requestId));
  });

  it("a reserved head blocks its conversation (no request to answer, no place for it) until attached; attach lists it open", async () => {
    const conv = `local:reserve-${randomUUID()}`;
    const r = request(conv);
    const out = await inbox.reserve(reservedOf(r), LIMITS, 60_000);
    expect(out).toMatchObject({ kind: "queued", ahead: 0 });
    expect(await redis.hget(keys.reply(r.requestId), "state")).toBe("reserved");
    expect(await inbox.head(conv)).toEqual({ requestId: r.requestId, request: undefined, reserved: true });
    expect(await inbox.waiting(conv)).toEqual([]);
    expect(await inbox.start(conv, r.requestId, "w1")).toBe("reserved");
    // A worker finding it does not drop a live reservation.
    expect(await inbox.release(conv, r.requestId, true)).toBe(false);

    expect(await inbox.attach(r, 0, 900)).toBe(true);
    expect(await inbox.head(conv)).toEqual({ requestId: r.requestId, request: r });
    expect(await redis.hgetall(keys.reply(r.requestId))).toMatchObject({ state: "queued", place: "0" });
    expect(await redis.exists(keys.reserved(r.requestId))).toBe(0);
    const open = await new OpenReplies(redis, keys).since(Date.now() + 1);
    expect(open.find((o) => o.requestId === r.requestId)).toMatchObject({ conversationKey: conv, reply: r.reply });
    // Attached entries are never released.
    expect(await inbox.release(conv, r.requestId)).toBe(false);
    expect(await inbox.start(conv, r.requestId, "w1")).toBe("started");
  });

  it("release gives the place up (the next message moves up, the message may come again); an expired one is dropped by a worker", async () => {
    const conv = `local:release-${randomUUID()}`;
    const [a, b] = [request(conv), request(conv)];
    await inbox.reserve(reservedOf(a), LIMITS, 60_000);
    await inbox.reserve(reservedOf(b), LIMITS, 50);
    expect(await inbox.release(conv, a.requestId)).toBe(true);
    expect(await redis.exists(keys.request(a.requestId), keys.reply(a.requestId), keys.dedupe(a.requestId))).toBe(0);
    expect((await inbox.reserve(reservedOf(a), LIMITS, 60_000)).kind).toBe("queued"); // not a duplicate
    await new Promise((r) => setTimeout(r, 80));
    expect(await inbox.release(conv, b.requestId, true)).toBe(true);
    expect(await inbox.attach(b, 0, 900)).toBe(false); // too late: not brought back
    expect(await redis.zrange(keys.inbox(conv), 0, -1)).toEqual([a.requestId]);
  });

  it("withdrawWaiting takes a queued message out of the line (stopped, closed); a started one is left to the stop channel", async () => {
    const conv = `local:withdraw-${randomUUID()}`;
    const [a, b] = [request(conv), request(conv)];
    for (const r of [a, b]) {
      await inbox.reserve(reservedOf(r), LIMITS, 60_000);
      await inbox.attach(r, 0, 900);
    }
    expect(await inbox.start(conv, a.requestId, "w1")).toBe("started");
    expect(await inbox.withdrawWaiting(conv, a.requestId)).toBe(false);
    expect(await inbox.withdrawWaiting(conv, b.requestId)).toBe(true);
    expect(await redis.zrange(keys.inbox(conv), 0, -1)).toEqual([a.requestId]);
    expect(await redis.hget(keys.reply(b.requestId), "state")).toBe("done");
    expect(await inbox.isStopped(b.requestId)).toBe(true);
    expect(await new OpenReplies(redis, keys).isOpen(b.requestId)).toBe(false);
    // A worker that read it before the withdrawal does not start it.
    expect(await inbox.start(conv, b.requestId, "w2")).toBe("gone");
  });
});
