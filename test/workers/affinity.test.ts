/**
 * Conversation affinity across real worker processes (bin/worker.ts, local engine): a follow-up
 * is answered by the worker that answered the conversation before, with its history warm; it goes
 * to another worker when that one is saturated; and when it dies — between two turns or in the
 * middle of one — the conversation goes on elsewhere, in order, every message answered once.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { LocalChatClient } from "../../adapters/local/LocalChatClient.ts";
import { ConversationMemory } from "../../src/memory/ConversationMemory.ts";
import type { ReplyUpdate } from "../../src/stream/RedisStreamSink.ts";
import type { ChatRequest } from "../../src/types.ts";
import { WorkerProcess } from "../../tools/chaos/WorkerProcess.ts";
import { Harness, testConfig } from "../helpers/harness.ts";

let h: Harness;
let env: Record<string, string>;
const procs: WorkerProcess[] = [];

beforeAll(async () => {
  const config = await testConfig({ MAX_NEW_TOKENS: "400", CONTEXT_SIZE: "2048", LOCAL_STREAM_INTERVAL_MS: "50" });
  env = {
    MODEL: config.MODEL,
    REDIS_URL: config.REDIS_URL,
    REDIS_PREFIX: config.REDIS_PREFIX,
    THREADS: "1",
    // One sequence and no delivery jobs: a worker takes one reply at a time, so "saturated" is one long reply.
    WORKER_CONCURRENCY: "1",
    WORKER_DELIVERY_JOBS: "0",
    CONTEXT_SIZE: "2048",
    MAX_NEW_TOKENS: "400",
    JOB_LOCK_MS: "4000",
    LOCAL_STREAM_INTERVAL_MS: "50",
  };
  h = new Harness(config);
});

afterEach(async () => {
  for (const p of procs.splice(0)) await p.stop();
});

afterAll(async () => {
  await h?.close();
});

async function worker(): Promise<{ proc: WorkerProcess; id: string }> {
  const proc = await WorkerProcess.start(env);
  procs.push(proc);
  const id = /"worker":"([0-9a-f]+)"[^\n]*"msg":"worker ready"/.exec(proc.output)?.[1];
  if (!id) throw new Error(`no worker id in:\n${proc.output}`);
  return { proc, id };
}

async function until(cond: () => boolean | Promise<boolean>, ms = 30_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`${what}: not met in time`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Send and wait for the committed answer; returns the request and the worker that answered it. */
async function turn(client: LocalChatClient, text: string, ms = 30_000): Promise<{ request: ChatRequest; by: string }> {
  const request = await client.submit(text);
  await client.waitCommitted(request, ms);
  return { request, by: await answeredBy(request) };
}

const answeredBy = async (request: ChatRequest) => (await h.redis.hget(h.keys.reply(request.requestId), "worker")) ?? "";

/**
 * A worker's log line "reply done" for this request: the tokens of the prompt and those it reused.
 * Logged just after the commit, so it may reach the pipe a moment after the commit is seen.
 */
async function replyDone(procs: WorkerProcess[], request: ChatRequest): Promise<{ promptTokens: number; cachedPromptTokens: number }> {
  const find = () => {
    for (const p of procs)
      for (const line of p.output.split("\n"))
        if (line.includes(request.requestId) && line.includes('"msg":"reply done"'))
          return JSON.parse(line) as { promptTokens: number; cachedPromptTokens: number };
    return undefined;
  };
  await until(() => find() !== undefined, 10_000, `"reply done" logged for ${request.requestId}`);
  return find()!;
}

const memory = () => new ConversationMemory(h.redis, h.keys, 3600);
const LONG_HISTORY = `Here is some background for later. ${"The quick brown fox jumps over the lazy dog. ".repeat(30)}`;

describe("conversation affinity across worker processes", () => {
  it("each follow-up is answered by the worker that answered its conversation, with the history already evaluated", async () => {
    const a = await worker();
    const b = await worker();
    const rooms = ["aff-1", "aff-2", "aff-3", "aff-4"].map((r) => h.client(r));
    // First turns two at a time: each worker takes one (one sequence each), so both get conversations.
    const first: Array<{ request: ChatRequest; by: string }> = [];
    for (let i = 0; i < rooms.length; i += 2)
      first.push(...(await Promise.all(rooms.slice(i, i + 2).map((c, j) => turn(c, `Room ${i + j}. ${LONG_HISTORY}`)))));
    expect(new Set(first.map((f) => f.by))).toEqual(new Set([a.id, b.id]));
    for (const [i, client] of rooms.entries()) {
      const next = await turn(client, "And what follows from that?");
      expect(next.by).toBe(first[i]!.by);
      const cold = await replyDone([a.proc, b.proc], first[i]!.request);
      const warm = await replyDone([a.proc, b.proc], next.request);
      // Warm: the first turn's whole prompt (the long history) is reused, not evaluated again. (How
      // much of the previous answer is reused varies: the random test model's text does not always
      // tokenize back to the tokens it generated.)
      expect(warm.promptTokens).toBeGreaterThan(cold.promptTokens);
      expect(cold.cachedPromptTokens).toBeLessThan(cold.promptTokens / 4); // at most the system prompt
      expect(warm.cachedPromptTokens).toBeGreaterThanOrEqual(cold.promptTokens);
    }
  });

  it("a follow-up whose worker is saturated goes to another worker and does not wait for it", async () => {
    const a = await worker();
    const x = h.client("sat-x");
    const y = h.client("sat-y");
    expect((await turn(x, "hello")).by).toBe(a.id);
    expect((await turn(y, "hello")).by).toBe(a.id);
    const b = await worker();
    // A long reply in x keeps a's only sequence busy…
    const long = await x.submit("Tell me a very long story about the sea, with many chapters.");
    await until(async () => (await h.redis.hget(h.keys.reply(long.requestId), "state")) === "generating", 30_000, "x generating");
    // …so y's follow-up is routed to the shared queue, and b starts it while a still generates.
    const followUp = await y.submit("and then?");
    await until(async () => (await h.redis.hget(h.keys.reply(followUp.requestId), "state")) !== "queued", 30_000, "y started");
    expect(await h.redis.hget(h.keys.reply(long.requestId), "state")).toBe("generating");
    await y.waitCommitted(followUp, 30_000);
    expect(await answeredBy(followUp)).toBe(b.id);
    await x.waitCommitted(long, 60_000);
    expect(await answeredBy(long)).toBe(a.id);
  });

  it("a worker killed between two turns: the next turn is answered by another worker, in order, once", async () => {
    const a = await worker();
    const client = h.client("dies-between");
    const one = await turn(client, "first question");
    expect(one.by).toBe(a.id);
    const b = await worker();
    a.proc.kill("SIGKILL");
    await a.proc.exit();
    // Sent while a's route has not expired yet: routed to a's queue, which b empties into the shared one.
    // (Without that, only the sweeper would find it, 30 s later.)
    const two = await turn(client, "second question", 20_000);
    expect(two.by).toBe(b.id);
    const turns = await memory().turns(client.conversationKey);
    expect(turns.map((t) => `${t.role}:${t.role === "user" ? t.text : ""}`)).toEqual([
      "user:first question",
      "assistant:",
      "user:second question",
      "assistant:",
    ]);
    await until(() => b.proc.output.includes("a worker's queue moved to the shared queue"), 5000, "b's rescue log line");
  });

  it("a worker killed mid-reply of a routed follow-up: another finishes it in the same placeholder, committed once", async () => {
    const a = await worker();
    const client = h.client("dies-mid");
    expect((await turn(client, "first question")).by).toBe(a.id);
    const b = await worker();
    const request = await client.submit("Now tell me a very long story about mountains.");
    const updates: ReplyUpdate[] = [];
    const done = (async () => {
      for await (const u of client.updates(request)) {
        updates.push(u);
        if (u.final) return u;
      }
      throw new Error("no final");
    })();
    await until(() => updates.length >= 2, 30_000, "streaming on a");
    expect(await answeredBy(request)).toBe(a.id);
    a.proc.kill("SIGKILL");
    await a.proc.exit();
    const final = await done;
    await client.waitCommitted(request, 60_000);
    expect(await answeredBy(request)).toBe(b.id);
    const turns = await memory().turns(client.conversationKey);
    expect(turns.map((t) => t.role)).toEqual(["user", "assistant", "user", "assistant"]);
    expect(turns[3]!.text).toBe(final.text);
  });
});
