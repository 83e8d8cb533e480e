/**
 * Conversation affinity's pieces against the real Redis: where WorkerRoutes sends a conversation's
 * job (its worker's own queue only while that worker is alive with a free sequence), which workers
 * count as gone, and the conversation lease (held only while the holder's job lock lives; decide
 * and commit refuse a holder that lost it).
 */
import { randomUUID } from "node:crypto";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { Keys, QUEUE_NAME, workerQueueName } from "../../src/keys.ts";
import { ConversationInbox } from "../../src/queue/ConversationInbox.ts";
import { ConversationLease } from "../../src/queue/ConversationLease.ts";
import { WorkerRoutes } from "../../src/queue/WorkerRoutes.ts";
import { testRedisUrl } from "../helpers/testRedis.ts";

const redis = new Redis(testRedisUrl());
const keys = new Keys(`qbt-routes-${randomUUID().slice(0, 8)}`);
const shared = new Queue(QUEUE_NAME, { connection: redis, prefix: keys.bull });
const routes = new WorkerRoutes(redis, keys, shared);
const lease = new ConversationLease(redis, keys);

afterAll(async () => {
  await routes.close();
  await shared.close();
  const all = await redis.keys(`${keys.prefix}:*`);
  if (all.length) await redis.del(...all);
  redis.disconnect();
});

describe("WorkerRoutes", () => {
  it("routes to the conversation's worker only while it is alive and has a free sequence", async () => {
    expect(await routes.queueFor("local:a")).toBe(QUEUE_NAME); // no affinity yet
    await routes.remember("local:a", "w1", 60);
    expect(await routes.queueFor("local:a")).toBe(QUEUE_NAME); // w1 never announced (gone)
    await routes.announce("w1", 2, 5000);
    expect(await routes.queueFor("local:a")).toBe(workerQueueName("w1"));
    await routes.announce("w1", 0, 5000);
    expect(await routes.queueFor("local:a")).toBe(QUEUE_NAME); // saturated
    await routes.announce("w1", 1, 5000);
    await routes.withdraw("w1");
    expect(await routes.queueFor("local:a")).toBe(QUEUE_NAME); // shutting down
  });

  it("a route that is not refreshed expires: the worker counts as gone until forgotten", async () => {
    await routes.announce("w2", 1, 200);
    await routes.announce("w3", 1, 10_000);
    expect(await routes.gone()).not.toContain("w2");
    await new Promise((r) => setTimeout(r, 300));
    const gone = await routes.gone();
    expect(gone).toContain("w2");
    expect(gone).not.toContain("w3");
    expect(await routes.claimRescue("w2", "w3", 5000)).toBe(true);
    expect(await routes.claimRescue("w2", "w4", 5000)).toBe(false); // one rescuer at a time
    await routes.forget("w2");
    expect(await routes.gone()).not.toContain("w2");
  });

  it("wake adds one job per conversation on the chosen queue", async () => {
    await routes.remember("local:b", "w5", 60);
    await routes.announce("w5", 1, 5000);
    expect(await routes.wake("local:b")).toBe(workerQueueName("w5"));
    await routes.wake("local:b"); // deduplicated while the first waits
    const own = routes.queue(workerQueueName("w5"));
    expect((await own.getWaiting()).map((j) => j.data)).toEqual([{ conversationKey: "local:b" }]);
    expect(await routes.wake("local:c")).toBe(QUEUE_NAME);
    expect((await shared.getWaiting()).map((j) => j.data)).toContainEqual({ conversationKey: "local:c" });
  });
});

describe("ConversationLease", () => {
  const conv = "local:lease";
  const first = lease.lockFor(conv, { jobId: "1", token: "tok-a", queue: workerQueueName("w1") });
  const second = lease.lockFor(conv, { jobId: "7", token: "tok-b" });

  it("is held while the holder's job lock carries its token, and free once that lock is gone or another's", async () => {
    await redis.set(keys.jobLock("1", workerQueueName("w1")), "tok-a", "PX", 60_000);
    expect(await lease.take(first)).toBe(true);
    expect(await lease.take(first)).toBe(true); // already its own
    expect(await lease.take(second)).toBe(false);
    await redis.set(keys.jobLock("1", workerQueueName("w1")), "tok-other", "PX", 60_000); // the job was taken over
    expect(await lease.take(second)).toBe(true);
    await redis.set(keys.jobLock("7", QUEUE_NAME), "tok-b", "PX", 60_000);
    expect(await lease.take(first)).toBe(false);
    await redis.del(keys.jobLock("7", QUEUE_NAME)); // the holder's job ended (or its worker died)
    expect(await lease.take(first)).toBe(true);
    await lease.release(second); // not the holder: nothing changes
    expect(await redis.get(keys.lease(conv))).toBe(first.lease!.value);
    await lease.release(first);
    expect(await redis.get(keys.lease(conv))).toBeNull();
  });

  it("fences decide, commit and holdsLock: a holder whose lease was taken over writes nothing", async () => {
    const inbox = new ConversationInbox(redis, keys);
    const c = "local:fenced";
    const a = lease.lockFor(c, { jobId: "2", token: "tok-a" });
    const b = lease.lockFor(c, { jobId: "3", token: "tok-b", queue: workerQueueName("w9") });
    await redis.set(keys.jobLock("2"), "tok-a", "PX", 60_000);
    await redis.set(keys.jobLock("3", workerQueueName("w9")), "tok-b", "PX", 60_000);
    await inbox.append(
      {
        requestId: "r1",
        conversationKey: c,
        author: { id: "u", name: "u" },
        text: "hi",
        receivedAt: Date.now(),
        reply: { platform: "local", channelId: "x", messageId: "m1" },
      },
      { dedupeTtlSeconds: 60, requestTtlSeconds: 60, maxPendingPerConversation: 5, userMessagesPerMinute: 0 },
    );
    expect(await lease.take(a)).toBe(true);
    expect(await inbox.holdsLock(a)).toBe(true);
    // a's job lock still holds its token, but b took the lease (as after a's lock had lapsed once).
    await redis.set(keys.lease(c), b.lease!.value);
    expect(await inbox.holdsLock(a)).toBe(false);
    const answer = { text: "x", turns: [], dropOldest: 0, replaceLastAssistant: false, epoch: "0" };
    expect(await inbox.decide("r1", a, answer)).toBe(false);
    const commit = {
      conversationKey: c,
      requestId: "r1",
      epochSeen: "0",
      turns: [],
      dropOldest: 0,
      replaceLastAssistant: false,
      memoryTtlSeconds: 60,
    };
    expect(await inbox.commit({ ...commit, lock: a })).toBe("LOCK_LOST");
    expect(await inbox.decide("r1", b, answer)).toBe(true);
    expect(await inbox.commit({ ...commit, lock: b })).toBe("OK");
  });
});
