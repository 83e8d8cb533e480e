/**
 * The inbox protocol's scripts against the real Redis, called through ConversationInbox: append
 * (dedupe, rate limit, cap, arrival order), commit (fenced on the job lock, the reset epoch and
 * "already committed"), decide (fenced on the lock), releaseIfEmpty, and the scripts' definition
 * on a connection (once, and still working after Redis restarted and forgot them).
 */
import { createHash, randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it, vi } from "vitest";
import { Keys } from "../../src/keys.ts";
import { ConversationMemory } from "../../src/memory/ConversationMemory.ts";
import { type AppendLimits, ConversationInbox, INBOX_SCRIPTS, MAX_STORED_TURNS } from "../../src/queue/ConversationInbox.ts";
import { createRedis } from "../../src/redisConnection.ts";
import type { ChatRequest, ChatTurn } from "../../src/types.ts";
import { RedisServerProcess } from "../../tools/chaos/RedisServerProcess.ts";
import { ROOT } from "../helpers/runCli.ts";

const redis = new Redis("redis://127.0.0.1:6379");
const keys = new Keys(`qbt-inbox-${randomUUID().slice(0, 8)}`);
const inbox = new ConversationInbox(redis, keys);
const memory = new ConversationMemory(redis, keys, 3600);

afterAll(async () => {
  const all = await redis.keys(`${keys.prefix}:*`);
  if (all.length) await redis.del(...all);
  redis.disconnect();
});

const LIMITS: AppendLimits = { dedupeTtlSeconds: 600, requestTtlSeconds: 900, maxPendingPerConversation: 20, userMessagesPerMinute: 0 };

let n = 0;
function request(conversationKey: string, over: Partial<ChatRequest> = {}): ChatRequest {
  n++;
  return {
    requestId: `local-${randomUUID()}`,
    conversationKey,
    author: { id: "user-1", name: "ann" },
    text: `message ${n}`,
    receivedAt: Date.now(),
    reply: { platform: "local", channelId: "room", messageId: `m${n}` },
    ...over,
  };
}

const turn = (role: ChatTurn["role"], text: string): ChatTurn => ({ role, text, at: 1 });

/** Append `r` and expect it queued. */
async function queued(r: ChatRequest, limits = LIMITS) {
  const out = await inbox.append(r, limits);
  if (out.kind !== "queued") throw new Error(`expected queued, got ${out.kind}`);
  return out;
}

function commitOf(r: ChatRequest, over: Partial<Parameters<ConversationInbox["commit"]>[0]> = {}) {
  return inbox.commit({
    conversationKey: r.conversationKey,
    requestId: r.requestId,
    epochSeen: "0",
    lock: undefined,
    turns: [turn("user", r.text), turn("assistant", `answer to ${r.text}`)],
    dropOldest: 0,
    replaceLastAssistant: false,
    memoryTtlSeconds: 3600,
    ...over,
  });
}

describe("append", () => {
  it("queues a message: inbox entry, stored request, reply state queued with its TTL, conversation listed", async () => {
    const r = request("local:append");
    const out = await queued(r);
    expect(out.ahead).toBe(0);
    expect(await redis.zscore(keys.inbox(r.conversationKey), r.requestId)).toBe(String(out.seq));
    expect(JSON.parse((await redis.get(keys.request(r.requestId)))!)).toEqual(r);
    expect(await redis.hget(keys.reply(r.requestId), "state")).toBe("queued");
    const ttl = await redis.ttl(keys.reply(r.requestId));
    expect(ttl).toBeGreaterThan(800);
    expect(ttl).toBeLessThanOrEqual(900);
    expect(await inbox.conversations()).toContain(r.conversationKey);
  });

  it("drops a redelivered platform message", async () => {
    const r = request("local:dupe");
    await queued(r);
    expect(await inbox.append({ ...r, text: "again" }, LIMITS)).toEqual({ kind: "duplicate" });
    expect(await inbox.pending(r.conversationKey)).toBe(1);
  });

  it("refuses a user over the per-minute limit, and leaves no dedupe mark so the message can come again", async () => {
    const author = { id: `fast-${randomUUID()}`, name: "fast" };
    const limits = { ...LIMITS, userMessagesPerMinute: 2 };
    await queued(request("local:rate1", { author }), limits);
    await queued(request("local:rate2", { author }), limits);
    const r = request("local:rate3", { author });
    expect(await inbox.append(r, limits)).toEqual({ kind: "rateLimited", sent: 2 });
    expect(await redis.exists(keys.dedupe(r.requestId))).toBe(0);
    expect(await inbox.pending("local:rate3")).toBe(0);
    // The limit is per user.
    await queued(request("local:rate3", { author: { id: `calm-${randomUUID()}`, name: "calm" } }), limits);
    // Without the limit the refused message is accepted (not remembered as a duplicate).
    await queued(r, LIMITS);
  });

  it("caps the messages waiting in one conversation", async () => {
    const limits = { ...LIMITS, maxPendingPerConversation: 2 };
    const conv = "local:cap";
    await queued(request(conv), limits);
    await queued(request(conv), limits);
    const r = request(conv);
    expect(await inbox.append(r, limits)).toEqual({ kind: "full", waiting: 2 });
    expect(await redis.exists(keys.dedupe(r.requestId))).toBe(0);
    expect(await redis.exists(keys.request(r.requestId))).toBe(0);
    expect(await inbox.pending(conv)).toBe(2);
  });

  it("keeps arrival order across interleaved conversations: head, places in line, then the next head after a commit", async () => {
    const [a1, b1, a2, a3] = [request("local:ordA"), request("local:ordB"), request("local:ordA"), request("local:ordA")];
    const seqs: number[] = [];
    for (const r of [a1, b1, a2, a3]) seqs.push((await queued(r!)).seq);
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(4);
    expect((await inbox.append(request("local:ordA"), { ...LIMITS, maxPendingPerConversation: 3 })).kind).toBe("full");

    expect(await inbox.head("local:ordA")).toEqual({ requestId: a1!.requestId, request: a1 });
    expect((await inbox.waiting("local:ordA")).map((w) => [w.place, w.request.requestId])).toEqual([
      [0, a1!.requestId],
      [1, a2!.requestId],
      [2, a3!.requestId],
    ]);
    expect(await commitOf(a1!)).toBe("OK");
    expect((await inbox.head("local:ordA"))?.requestId).toBe(a2!.requestId);
    expect((await inbox.head("local:ordB"))?.requestId).toBe(b1!.requestId);

    // A request that expired keeps its place in line but has nothing to answer.
    await redis.del(keys.request(a2!.requestId));
    expect(await inbox.head("local:ordA")).toEqual({ requestId: a2!.requestId, request: undefined });
    expect((await inbox.waiting("local:ordA")).map((w) => [w.place, w.request.requestId])).toEqual([[1, a3!.requestId]]);
    await inbox.dropExpired("local:ordA", a2!.requestId);
    expect((await inbox.head("local:ordA"))?.requestId).toBe(a3!.requestId);
  });
});

describe("commit", () => {
  it("appends the turns, takes the message out, marks the reply done; a second commit changes nothing", async () => {
    const r = request("local:commit");
    await queued(r);
    expect(await commitOf(r)).toBe("OK");
    expect((await memory.turns(r.conversationKey)).map((t) => t.text)).toEqual([r.text, `answer to ${r.text}`]);
    expect(await redis.ttl(keys.turns(r.conversationKey))).toBeGreaterThan(3000);
    expect(await inbox.pending(r.conversationKey)).toBe(0);
    expect(await redis.hget(keys.reply(r.requestId), "state")).toBe("done");

    expect(await commitOf(r)).toBe("ALREADY_COMMITTED");
    expect(await memory.turns(r.conversationKey)).toHaveLength(2);
  });

  it("is fenced on the job lock: another worker's token commits nothing, the holder's commits", async () => {
    const r = request("local:lock");
    await queued(r);
    const lock = { jobId: `job-${randomUUID()}`, token: "mine" };
    await redis.set(keys.jobLock(lock.jobId), "someone-else", "EX", 60);
    expect(await inbox.holdsLock(lock)).toBe(false);
    expect(await commitOf(r, { lock })).toBe("LOCK_LOST");
    expect(await memory.turns(r.conversationKey)).toEqual([]);
    expect(await inbox.pending(r.conversationKey)).toBe(1);
    expect(await redis.hget(keys.reply(r.requestId), "state")).toBe("queued");

    await redis.set(keys.jobLock(lock.jobId), "mine", "EX", 60);
    expect(await inbox.holdsLock(lock)).toBe(true);
    expect(await commitOf(r, { lock })).toBe("OK");
    expect(await memory.turns(r.conversationKey)).toHaveLength(2);
  });

  it("after a reset since the memory was read: the message leaves the inbox but its turns are not written", async () => {
    const r = request("local:reset");
    await queued(r);
    const { epoch } = await memory.load(r.conversationKey);
    await memory.reset(r.conversationKey);
    expect(await commitOf(r, { epochSeen: epoch })).toBe("RESET_SINCE");
    expect(await memory.turns(r.conversationKey)).toEqual([]);
    expect(await inbox.pending(r.conversationKey)).toBe(0);
    expect(await redis.hget(keys.reply(r.requestId), "state")).toBe("done");
    // With the new epoch the next message is remembered.
    const next = request("local:reset");
    await queued(next);
    expect(await commitOf(next, { epochSeen: (await memory.load(next.conversationKey)).epoch })).toBe("OK");
    expect(await memory.turns(next.conversationKey)).toHaveLength(2);
  });

  it("regenerate replaces the last assistant turn; dropOldest and the stored-turns cap trim from the front", async () => {
    const conv = "local:trim";
    const first = request(conv);
    await queued(first);
    await commitOf(first, { turns: [turn("user", "q1"), turn("assistant", "a1"), turn("user", "q2"), turn("assistant", "a2")] });
    const regen = request(conv);
    await queued(regen);
    expect(await commitOf(regen, { turns: [turn("assistant", "a2 again")], replaceLastAssistant: true })).toBe("OK");
    expect((await memory.turns(conv)).map((t) => t.text)).toEqual(["q1", "a1", "q2", "a2 again"]);

    const dropping = request(conv);
    await queued(dropping);
    expect(await commitOf(dropping, { turns: [turn("user", "q3"), turn("assistant", "a3")], dropOldest: 2 })).toBe("OK");
    expect((await memory.turns(conv)).map((t) => t.text)).toEqual(["q2", "a2 again", "q3", "a3"]);

    const many = request(conv);
    await queued(many);
    const turns = Array.from({ length: MAX_STORED_TURNS + 1 }, (_, i) => turn(i % 2 ? "assistant" : "user", `t${i}`));
    expect(await commitOf(many, { turns })).toBe("OK");
    const stored = await memory.turns(conv);
    expect(stored).toHaveLength(MAX_STORED_TURNS);
    expect(stored.at(-1)!.text).toBe(`t${MAX_STORED_TURNS}`);
    expect(stored[0]!.text).toBe("t1");
  });

  it("a job that failed for good: unfenced, nothing remembered, reply state failed", async () => {
    const r = request("local:failed");
    await queued(r);
    expect(await commitOf(r, { epochSeen: "", state: "failed" })).toBe("RESET_SINCE");
    expect(await memory.turns(r.conversationKey)).toEqual([]);
    expect(await inbox.pending(r.conversationKey)).toBe(0);
    expect(await redis.hget(keys.reply(r.requestId), "state")).toBe("failed");
  });
});

describe("reply state", () => {
  const decided = { text: "the answer", turns: [turn("assistant", "the answer")], dropOldest: 0, replaceLastAssistant: false, epoch: "0" };

  it("decide records the answer only while the caller holds the job lock", async () => {
    const r = request("local:decide");
    await queued(r);
    const lock = { jobId: `job-${randomUUID()}`, token: "mine" };
    await redis.set(keys.jobLock(lock.jobId), "other", "EX", 60);
    expect(await inbox.decide(r.requestId, lock, decided)).toBe(false);
    expect((await inbox.readReply(r.requestId)).decided).toBeUndefined();
    await redis.set(keys.jobLock(lock.jobId), "mine", "EX", 60);
    expect(await inbox.decide(r.requestId, lock, decided)).toBe(true);
    expect((await inbox.readReply(r.requestId)).decided).toEqual(decided);
    // Unfenced (no lock token): recorded.
    const other = request("local:decide");
    expect(await inbox.decide(other.requestId, undefined, { ...decided, text: "x" })).toBe(true);
    expect((await inbox.readReply(other.requestId)).decided?.text).toBe("x");
  });

  it("start, saveMessages and readReply", async () => {
    const r = request("local:state");
    await queued(r);
    expect(await inbox.readReply(r.requestId)).toEqual({ messages: undefined, decided: undefined, place: 0 });
    expect(await inbox.start(r.conversationKey, r.requestId, "w1")).toBe("started");
    const messages = [r.reply, { ...r.reply, messageId: "second" }];
    await inbox.saveMessages(r.requestId, messages);
    expect(await redis.hgetall(keys.reply(r.requestId))).toMatchObject({ state: "generating", worker: "w1" });
    expect((await inbox.readReply(r.requestId)).messages).toEqual(messages);
  });

  it("requestStop sets the stop flag and tells the workers on the stop channel", async () => {
    const sub = new Redis("redis://127.0.0.1:6379");
    try {
      await sub.subscribe(keys.stopChannel);
      const heard = new Promise<string>((resolve) => sub.on("message", (_channel: string, id: string) => resolve(id)));
      expect(await inbox.isStopped("local-stop-1")).toBe(false);
      await inbox.requestStop("local-stop-1");
      expect(await heard).toBe("local-stop-1");
      expect(await inbox.isStopped("local-stop-1")).toBe(true);
    } finally {
      sub.disconnect();
    }
  });
});

describe("releaseIfEmpty", () => {
  it("takes a conversation off the worklist only when its inbox is empty", async () => {
    const r = request("local:release");
    await queued(r);
    expect(await inbox.releaseIfEmpty(r.conversationKey)).toBe(false);
    expect(await inbox.conversations()).toContain(r.conversationKey);
    await commitOf(r);
    expect(await inbox.releaseIfEmpty(r.conversationKey)).toBe(true);
    expect(await inbox.conversations()).not.toContain(r.conversationKey);
    expect(await inbox.releaseIfEmpty(r.conversationKey)).toBe(false);
    // A new message lists the conversation again.
    await queued(request("local:release"));
    expect(await inbox.conversations()).toContain(r.conversationKey);
  });
});

describe("depths", () => {
  it("counts the messages waiting in each listed conversation", async () => {
    await queued(request("local:deep"));
    await queued(request("local:deep"));
    const shallow = request("local:shallow");
    await queued(shallow);
    await commitOf(shallow);
    const depths = new Map((await inbox.depths()).map((d) => [d.conversationKey, d.depth]));
    expect(depths.get("local:deep")).toBe(2);
    expect(depths.get("local:shallow")).toBe(0);
  });
});

describe("script definition", () => {
  it("each script file has a header naming its KEYS, ARGV and output", () => {
    for (const s of Object.values(INBOX_SCRIPTS)) {
      const lua = fs.readFileSync(path.join(ROOT, "src/queue/lua", s.file), "utf8");
      const header = lua.slice(0, lua.indexOf("]]"));
      expect(header.startsWith("--[[")).toBe(true);
      for (let i = 1; i <= s.keys; i++) expect(header).toContain(`KEYS[${i}]`);
      expect(header).not.toContain(`KEYS[${s.keys + 1}]`);
      expect(header).toMatch(/ARGV\[1\]/);
      expect(header).toMatch(/Output:/);
    }
  });

  it("is defined once per connection, and works after Redis restarted and forgot the scripts", async () => {
    const server = await RedisServerProcess.start();
    const conn = createRedis(server.url, "worker");
    try {
      const define = vi.spyOn(conn, "defineCommand");
      const one = new ConversationInbox(conn, keys);
      new ConversationInbox(conn, keys);
      expect(define.mock.calls.map((c) => c[0]).sort()).toEqual(Object.keys(INBOX_SCRIPTS).sort());

      const r = request("local:restart");
      await one.append(r, LIMITS);
      const sha = (file: string) =>
        createHash("sha1")
          .update(fs.readFileSync(path.join(ROOT, "src/queue/lua", file), "utf8"))
          .digest("hex");
      expect(await conn.script("EXISTS", sha("append.lua"))).toEqual([1]);

      await server.restart();
      await conn.script("FLUSH");
      expect(await conn.script("EXISTS", sha("append.lua"), sha("commit.lua"))).toEqual([0, 0]);

      // The data survived (AOF); the scripts are loaded again on first use.
      expect(await one.append(r, LIMITS)).toEqual({ kind: "duplicate" });
      expect(await one.commit({ ...baseCommit(r), lock: undefined })).toBe("OK");
      expect(await new ConversationMemory(conn, keys, 3600).turns(r.conversationKey)).toHaveLength(1);
      expect(await conn.script("EXISTS", sha("append.lua"), sha("commit.lua"))).toEqual([1, 1]);
      expect(define).toHaveBeenCalledTimes(Object.keys(INBOX_SCRIPTS).length);
    } finally {
      conn.disconnect();
      await server.close();
    }
  });
});

function baseCommit(r: ChatRequest) {
  return {
    conversationKey: r.conversationKey,
    requestId: r.requestId,
    epochSeen: "0",
    turns: [turn("assistant", "after the restart")],
    dropOldest: 0,
    replaceLastAssistant: false,
    memoryTtlSeconds: 3600,
  };
}
