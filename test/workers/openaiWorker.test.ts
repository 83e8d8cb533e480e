/**
 * The worker end to end with ENGINE=openai against the loopback OpenAI-compatible server
 * (test/sim/openai): streamed edits, Stop as a disconnect the server sees, exactly-once commit,
 * the place's sampling passed through with cache_prompt, a 503 waited out with a note on the
 * placeholder, a stream broken mid-reply retried like a crash in the same placeholder, and a
 * worker that starts before its server exists.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engineReadiness } from "../../bin/wiring/startWorker.ts";
import { ConversationMemory } from "../../src/memory/ConversationMemory.ts";
import { startHealthServer } from "../../src/ops/healthServer.ts";
import type { ReplyUpdate } from "../../src/stream/RedisStreamSink.ts";
import { CONTEXT_FULL_NOTE } from "../../workers/composeAnswer.ts";
import type { Engine } from "../../workers/engine/Engine.ts";
import { FAILURE_NOTE } from "../../workers/ReplySweeper.ts";
import { RETRY_NOTE } from "../../workers/replyFailure.ts";
import { Harness, testConfig } from "../helpers/harness.ts";
import { OpenAISim } from "../sim/openai/OpenAISim.ts";
import { renderChatML, simTokenize } from "../sim/openai/simTokenizer.ts";

const WORDS = Array.from({ length: 12 }, (_, i) => `${i === 0 ? "" : " "}w${i}`);

let sim: OpenAISim;
let h: Harness;

beforeAll(async () => {
  sim = await OpenAISim.start({ shape: "llama", models: ["sim-model"], contextSize: 4096, reply: () => WORDS, pieceDelayMs: 15 });
  const config = await testConfig({
    ENGINE: "openai",
    OPENAI_BASE_URL: sim.baseURL,
    OPENAI_TIMEOUT_MS: "5000",
    TEMPERATURE: "0.3",
    TOP_K: "7",
    MAX_NEW_TOKENS: "40",
  });
  h = new Harness(config);
  await h.startWorker();
});

afterAll(async () => {
  await h?.close();
  await sim?.stop();
});

const memory = () => new ConversationMemory(h.redis, h.keys, 3600);
const chatsOf = (text: string) => sim.chats.filter((c) => c.body.messages.at(-1)?.content === text);

describe("ENGINE=openai: the worker in front of an OpenAI-compatible server", () => {
  it("streams growing edits, commits once, and passes sampling, max_tokens and cache_prompt", async () => {
    const client = h.client("stream");
    const updates: ReplyUpdate[] = [];
    const final = await client.ask("hello there", (u) => updates.push(u));
    expect(final.text).toBe(WORDS.join(""));
    expect(final.note).toBeUndefined();
    const partial = updates.filter((u) => !u.final && u.text.length > 0);
    expect(partial.length).toBeGreaterThan(1);
    for (const u of partial) expect(final.text.startsWith(u.text)).toBe(true);
    const [chat] = chatsOf("hello there");
    expect(chat!.body).toMatchObject({ temperature: 0.3, top_k: 7, max_tokens: 40, cache_prompt: true, stream: true });
    const turns = await memory().turns(client.conversationKey);
    expect(turns.map((t) => [t.role, t.text])).toEqual([
      ["user", "hello there"],
      ["assistant", final.text],
    ]);
    // The follow-up carries the first exchange byte for byte: the server's prefix cache hits it.
    await client.ask("and again");
    const [next] = chatsOf("and again");
    expect(next!.body.messages.slice(0, 3)).toEqual(chat!.body.messages.concat([{ role: "assistant", content: final.text }]));
    expect(next!.cachedTokens).toBeGreaterThanOrEqual(chat!.promptTokens);
    expect((await memory().turns(client.conversationKey)).length).toBe(4);
  });

  it("Stop closes the HTTP stream: the server sees the disconnect and stops sending", async () => {
    const long = Array.from({ length: 400 }, (_, i) => ` s${i}`);
    sim.reply = () => long;
    sim.pieceDelayMs = 20;
    try {
      const client = h.client("stop");
      const request = await client.submit("a long one please");
      const final = await client.follow(request, (u) => {
        if (!u.final && u.text.length > 0) void h.ingestor.stop(request.requestId);
      });
      expect(final.note).toContain("stopped");
      const chat = await sim.waitFor(() => chatsOf("a long one please").find((c) => c.endedAt !== undefined));
      expect(chat.clientDisconnected).toBe(true);
      expect(chat.completed).toBe(false);
      expect(chat.piecesSent).toBeLessThan(long.length);
      // The partial answer is remembered once.
      const turns = await memory().turns(client.conversationKey);
      expect(turns.map((t) => t.role)).toEqual(["user", "assistant"]);
      expect(turns[1]!.text).toBe(final.text);
    } finally {
      sim.reply = () => WORDS;
      sim.pieceDelayMs = 15;
    }
  });

  it("a 503 with Retry-After is waited out with a note on the placeholder, then answered", async () => {
    sim.failNext({ kind: "status", status: 503, retryAfter: "1", message: "Loading model" });
    const client = h.client("busy");
    const updates: ReplyUpdate[] = [];
    const final = await client.ask("are you there", (u) => updates.push(u));
    expect(updates.some((u) => !u.final && u.text === "" && /retrying in 1 s/.test(u.note ?? ""))).toBe(true);
    expect(final.text).toBe(WORDS.join(""));
    expect(final.note).toBeUndefined();
    // Asked twice: the 503 (answered before the stream) and the one that streamed.
    const asked = sim.requests.filter((r) => r.path.endsWith("/chat/completions") && JSON.stringify(r.body).includes("are you there"));
    expect(asked).toHaveLength(2);
    expect(chatsOf("are you there").map((c) => c.status)).toEqual([200]);
    expect((await memory().turns(client.conversationKey)).length).toBe(2);
  });

  it("a stream dropped mid-reply is retried like a crash: the same placeholder is finished, committed once", async () => {
    sim.failNext({ kind: "drop", afterPieces: 3 });
    const client = h.client("drop");
    const updates: ReplyUpdate[] = [];
    const final = await client.ask("flaky", (u) => updates.push(u));
    expect(updates.some((u) => !u.final && u.note === RETRY_NOTE)).toBe(true);
    expect(final.text).toBe(WORDS.join(""));
    expect(updates.filter((u) => u.final)).toHaveLength(1);
    expect(chatsOf("flaky")).toHaveLength(2);
    const turns = await memory().turns(client.conversationKey);
    expect(turns.map((t) => [t.role, t.text])).toEqual([
      ["user", "flaky"],
      ["assistant", final.text],
    ]);
  });
});

describe("ENGINE=openai: how replies end", () => {
  it("a reply cut by the server's context (finish_reason length short of max_tokens) says so", async () => {
    const prompt = simTokenize(
      renderChatML([
        { role: "system", content: h.config.SYSTEM_PROMPT },
        { role: "user", content: "fill it" },
      ]),
    ).length;
    const size = sim.contextSize;
    sim.contextSize = prompt + 5;
    try {
      const final = await h.client("full").ask("fill it");
      expect(WORDS.join("").startsWith(final.text)).toBe(true);
      expect(final.text.length).toBeLessThan(WORDS.join("").length);
      expect(final.note).toBe(CONTEXT_FULL_NOTE);
    } finally {
      sim.contextSize = size;
    }
  });

  it("a message longer than the server's context (by its tokenizer) is refused with its size; the server is not asked", async () => {
    const client = h.client("toolong");
    const text = "a ".repeat(2100).trim(); // 4 199 tokens to the stand-in's tokenizer; its context is 4 096
    const request = await client.submit(text);
    const final = await client.follow(request);
    expect(final.note).toMatch(/^Your message is \d+ tokens long; the most I can read at once is \d+ tokens/);
    expect(await client.waitCommitted(request)).toBe("refused");
    expect(chatsOf(text)).toEqual([]);
  });

  it("a failure a retry cannot cure (HTTP 400) shows the failure note at once; nothing is remembered", async () => {
    sim.failNext({ kind: "status", status: 400, message: "unsupported parameter" });
    const client = h.client("rejected");
    const request = await client.submit("odd request");
    const final = await client.follow(request);
    expect(final.note).toBe(FAILURE_NOTE);
    expect(await client.waitCommitted(request)).toBe("done");
    const asked = sim.requests.filter((r) => r.path.endsWith("/chat/completions") && JSON.stringify(r.body).includes("odd request"));
    expect(asked).toHaveLength(1);
    expect(await memory().turns(client.conversationKey)).toEqual([]);
  });
});

describe("ENGINE=openai: a worker started before its server", () => {
  it("is not ready (saying why) and takes no job until the server answers, then answers", async () => {
    const port = await OpenAISim.freePort();
    const config = await testConfig({ ENGINE: "openai", OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`, OPENAI_TIMEOUT_MS: "2000" });
    const late = new Harness(config);
    let engine: Engine | undefined;
    let later: OpenAISim | undefined;
    try {
      const starting = late.startWorker({ onEngine: (e) => (engine = e) });
      const client = late.client("late");
      const request = await client.submit("anyone?");
      await sim.waitFor(() => engine?.readiness()?.includes("not answering"), 10_000);
      // /readyz says why, as bin/worker.ts wires it.
      const health = await startHealthServer({ port: 0, checks: { model: () => engineReadiness(engine, false) } });
      try {
        const res = await fetch(`${health.url}/readyz`);
        expect(res.status).toBe(503);
        const body = (await res.json()) as { checks: { model: string } };
        expect(body.checks.model).toMatch(/^engine: model server at http:\/\/127\.0\.0\.1:\d+\/v1 not answering/);
      } finally {
        await health.close();
      }
      expect(await late.redis.hget(late.keys.reply(request.requestId), "state")).not.toBe("done");
      later = await OpenAISim.start({ port, reply: () => ["late", " but", " here"] });
      await starting;
      expect(engineReadiness(engine, true)).toBeUndefined();
      const final = await client.follow(request);
      expect(final.text).toBe("late but here");
    } finally {
      await late.close();
      await later?.stop();
    }
  });

  it("an OPENAI_MODEL the server does not list stops the start with an error naming it", async () => {
    const config = await testConfig({ ENGINE: "openai", OPENAI_BASE_URL: sim.baseURL, OPENAI_MODEL: "no-such-model" });
    const wrong = new Harness(config);
    try {
      await expect(wrong.startWorker()).rejects.toThrow(/no-such-model/);
    } finally {
      await wrong.close();
    }
  });
});
