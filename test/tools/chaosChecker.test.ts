/**
 * The chaos run can fail: its checker is fed deliberately broken end states (doubled or missing
 * assistant turn, delivered ≠ stored, lost, duplicated, out of order, stuck, failed, unexpected)
 * and must fail each one, pass a clean one, and tell a loss in Redis's fsync window from a bot
 * loss. Also: the summary's verdict, the seeded fault plan, and the reader against what a real
 * worker leaves in Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatRequest } from "../../src/types.ts";
import { planFaults } from "../../tools/chaos/chaosPlan.ts";
import { summarize } from "../../tools/chaos/chaosSummary.ts";
import { LocalTraffic } from "../../tools/chaos/chaosTraffic.ts";
import {
  type ChaosState,
  type CheckFacts,
  checkDelivery,
  type DeliverySummary,
  FAILURE_FIELDS,
  type SentRecord,
} from "../../tools/chaos/checkDelivery.ts";
import { readChaosState } from "../../tools/chaos/readChaosState.ts";
import type { ModelRunner } from "../../workers/inference/ModelRunner.ts";
import { Harness, loadTinyRunner, testConfig } from "../helpers/harness.ts";

const T0 = 1_700_000_000_000;
const CRASH = { killedAt: T0 + 60_000, backAt: T0 + 62_000 };
const FACTS: CheckFacts = { redisCrashes: [CRASH], fsyncWindowMs: 2000 };

/** Two conversations of three messages, all answered once: the clean end state. */
function clean(): { sent: SentRecord[]; state: ChaosState } {
  const sent: SentRecord[] = [];
  const state: ChaosState = { turns: {}, replyStates: {}, delivered: {}, waiting: {} };
  for (const c of [0, 1]) {
    const conv = `local:chaos-${c}`;
    state.turns[conv] = [];
    state.waiting[conv] = [];
    for (let i = 0; i < 3; i++) {
      const r: SentRecord = {
        requestId: `req-${c}-${i}`,
        conversationKey: conv,
        index: i,
        text: `conversation ${c} message ${i}`,
        messageId: `msg-${c}-${i}`,
        attempts: 1,
        refusals: 0,
        acceptedAt: T0 + 10_000 * (c * 3 + i),
      };
      sent.push(r);
      state.turns[conv]!.push({ role: "user", text: r.text }, { role: "assistant", text: `answer ${c}.${i}` });
      state.delivered[r.requestId] = [{ text: `answer ${c}.${i}` }];
      state.replyStates[r.requestId] = "done";
    }
  }
  return { sent, state };
}

/** The failure counts that are not zero. */
function failures(s: DeliverySummary): Record<string, number> {
  return Object.fromEntries(FAILURE_FIELDS.filter(([f]) => s[f] !== 0).map(([f]) => [f, s[f]]));
}

const conv0 = "local:chaos-0";

describe("checkDelivery", () => {
  it("passes a clean end state", () => {
    const { sent, state } = clean();
    const s = checkDelivery(state, sent, FACTS);
    expect(failures(s)).toEqual({});
    expect(s).toMatchObject({ sent: 6, answeredExactlyOnce: 6, lostByRedis: 0, ok: true });
  });

  const broken: Array<[string, (x: ReturnType<typeof clean>) => void, Record<string, number>]> = [
    [
      "a doubled assistant turn",
      ({ state }) => state.turns[conv0]!.splice(2, 0, { role: "assistant", text: "again" }),
      { doubledAssistant: 1 },
    ],
    ["a missing assistant turn", ({ state }) => state.turns[conv0]!.splice(3, 1), { missingAssistant: 1 }],
    ["a missing last assistant turn", ({ state }) => state.turns[conv0]!.pop(), { missingAssistant: 1 }],
    [
      "delivered text ≠ stored text",
      ({ state }) => {
        state.delivered["req-0-1"] = [{ text: "something else" }];
      },
      { deliveredNotStored: 1 },
    ],
    ["delivered but never stored", ({ state }) => state.turns[conv0]!.splice(2, 2), { deliveredNotStored: 1 }],
    [
      "stored but never delivered",
      ({ state }) => {
        state.delivered["req-0-1"] = [];
      },
      { deliveredNotStored: 1 },
    ],
    [
      "a lost message (no trace, far from any Redis crash)",
      ({ state }) => {
        state.turns[conv0]!.splice(2, 2);
        state.delivered["req-0-1"] = [];
        state.replyStates["req-0-1"] = undefined;
      },
      { lost: 1 },
    ],
    [
      "a message marked done but neither delivered nor stored",
      ({ state }) => {
        state.turns[conv0]!.splice(2, 2);
        state.delivered["req-0-1"] = [];
      },
      { lost: 1 },
    ],
    ["two different final replies", ({ state }) => void state.delivered["req-0-1"]!.push({ text: "a second answer" }), { duplicated: 1 }],
    [
      "a message answered twice in memory",
      ({ state }) =>
        state.turns[conv0]!.push({ role: "user", text: "conversation 0 message 1" }, { role: "assistant", text: "answer 0.1" }),
      { duplicated: 1 },
    ],
    [
      "answers out of order",
      ({ state }) => {
        const t = state.turns[conv0]!;
        t.splice(0, 4, t[2]!, t[3]!, t[0]!, t[1]!);
      },
      { outOfOrder: 1 },
    ],
    [
      "a placeholder left generating",
      ({ state }) => {
        state.replyStates["req-1-2"] = "generating";
      },
      { stuck: 1 },
    ],
    [
      "a message still in its inbox",
      ({ state }) => {
        state.turns["local:chaos-1"]!.splice(4, 2);
        state.delivered["req-1-2"] = [];
        state.replyStates["req-1-2"] = "queued";
        state.waiting["local:chaos-1"] = ["req-1-2"];
      },
      { stuck: 1 },
    ],
    [
      "an answer whose reply record was never marked done",
      ({ state }) => {
        state.replyStates["req-1-0"] = "interrupted";
      },
      { stuck: 1 },
    ],
    [
      "a message answered with the error note",
      ({ state }) => {
        state.turns[conv0]!.splice(2, 2);
        state.delivered["req-0-1"] = [{ text: "", note: "Sorry — something went wrong while answering. Please try again." }];
        state.replyStates["req-0-1"] = "failed";
      },
      { failed: 1 },
    ],
    [
      "a user turn nobody sent",
      ({ state }) => state.turns[conv0]!.push({ role: "user", text: "ghost" }, { role: "assistant", text: "boo" }),
      { unexpectedTurns: 1 },
    ],
  ];

  it.each(broken)("fails %s", (_name, breakIt, expected) => {
    const x = clean();
    breakIt(x);
    const s = checkDelivery(x.state, x.sent, FACTS);
    expect(failures(s)).toEqual(expected);
    expect(s.ok).toBe(false);
    expect(s.problems.length).toBeGreaterThan(0);
  });

  it("does not count an answer followed by a second assistant turn as answered exactly once", () => {
    const { sent, state } = clean();
    state.turns[conv0]!.splice(2, 0, { role: "assistant", text: "answer 0.0" });
    expect(checkDelivery(state, sent, FACTS)).toMatchObject({ answeredExactlyOnce: 5, doubledAssistant: 1, ok: false });
  });

  /** Message 0.1 gone without a trace, acknowledged at `acceptedAt`. */
  function vanished(acceptedAt: number): DeliverySummary {
    const { sent, state } = clean();
    sent.find((r) => r.requestId === "req-0-1")!.acceptedAt = acceptedAt;
    state.turns[conv0]!.splice(2, 2);
    state.delivered["req-0-1"] = [];
    state.replyStates["req-0-1"] = undefined;
    return checkDelivery(state, sent, FACTS);
  }

  it("counts a message acknowledged within the fsync window before a Redis SIGKILL, now without a trace, as Redis's loss (accounted, not a failure)", () => {
    for (const at of [CRASH.killedAt - 2000, CRASH.killedAt - 500, CRASH.killedAt + 300]) {
      const s = vanished(at);
      expect(s).toMatchObject({ lostByRedis: 1, lost: 0, answeredExactlyOnce: 5, ok: true });
      expect(s.problems.join("\n")).toMatch(/fsync window/);
    }
  });

  it("counts the same vanished message as the bot's loss outside the window (before it, or after Redis was back)", () => {
    for (const at of [CRASH.killedAt - 2001, CRASH.backAt, CRASH.backAt + 5000, T0]) {
      const s = vanished(at);
      expect(s).toMatchObject({ lostByRedis: 0, lost: 1, ok: false });
    }
    const noCrash = checkDelivery(clean().state, clean().sent, { redisCrashes: [], fsyncWindowMs: 2000 });
    expect(noCrash.ok).toBe(true);
  });

  it("never excuses a message that left a trace as Redis's loss, even inside the window", () => {
    const { sent, state } = clean();
    sent.find((r) => r.requestId === "req-0-1")!.acceptedAt = CRASH.killedAt - 100;
    state.turns[conv0]!.splice(2, 2);
    state.delivered["req-0-1"] = [];
    // The reply record survived: Redis kept the message, the bot lost it.
    const s = checkDelivery(state, sent, FACTS);
    expect(s).toMatchObject({ lostByRedis: 0, lost: 1, ok: false });
  });
});

describe("the run's verdict", () => {
  const facts = (sent: SentRecord[], summary: DeliverySummary) => ({
    seed: 5,
    platforms: ["local"],
    killsPerWorker: [2, 2],
    appendfsync: "everysec",
    redisCrashes: [CRASH],
    delayedFsyncBeforeCrash: [0],
    fsyncWindowMs: 2000,
    sendingFrom: T0,
    sendingUntil: T0 + 120_000,
    sent,
    summary,
  });

  it("passes a clean run whose Redis crash made the client retry, and prints every count", () => {
    const { sent, state } = clean();
    sent[4]!.refusals = 3;
    sent[4]!.attempts = 4;
    const v = summarize(facts(sent, checkDelivery(state, sent, FACTS)));
    expect(v.ok).toBe(true);
    const text = v.lines.join("\n");
    expect(text).toMatch(/refused, retried, accepted\s+1 \(3 refusals/);
    expect(text).toMatch(/lost by Redis's fsync window\s+0/);
    expect(text).toMatch(/delivered ≠ stored\s+0/);
    expect(text).toMatch(/result\s+PASS/);
    expect(text).toContain("--seed 5");
  });

  it("fails a run where the Redis crash refused nothing (faults did not overlap the sending)", () => {
    const { sent, state } = clean();
    const v = summarize(facts(sent, checkDelivery(state, sent, FACTS)));
    expect(v.ok).toBe(false);
    expect(v.lines.join("\n")).toMatch(/no message was refused while Redis was down/);
  });

  it("fails and names each checker failure", () => {
    const { sent, state } = clean();
    sent[0]!.refusals = 1;
    state.turns[conv0]!.splice(2, 0, { role: "assistant", text: "again" });
    const v = summarize(facts(sent, checkDelivery(state, sent, FACTS)));
    expect(v.ok).toBe(false);
    expect(v.lines.join("\n")).toMatch(/result\s+FAIL[\s\S]*doubled assistant turns: 1/);
  });
});

describe("planFaults", () => {
  const opts = { seed: 42, workers: 3, kills: 6, sendMs: 20_000, redisDownMs: 2000 };

  it("is the same for the same seed and different for another", () => {
    expect(planFaults(opts)).toEqual(planFaults(opts));
    expect(planFaults({ ...opts, seed: 43 })).not.toEqual(planFaults(opts));
  });

  it("spreads kills over every worker, never the same one twice in a row, and kills Redis once while sending", () => {
    for (let seed = 1; seed <= 50; seed++) {
      const plan = planFaults({ ...opts, seed });
      const victims = plan.flatMap((e) => (e.kind === "killWorker" ? [e.worker] : []));
      expect(victims).toHaveLength(6);
      expect([0, 1, 2].map((w) => victims.filter((v) => v === w).length)).toEqual([2, 2, 2]);
      for (let i = 1; i < victims.length; i++) expect(victims[i]).not.toBe(victims[i - 1]);
      const crashes = plan.filter((e) => e.kind === "crashRedis");
      expect(crashes).toHaveLength(1);
      expect(crashes[0]!.at).toBeGreaterThanOrEqual(0.25 * opts.sendMs);
      expect(crashes[0]!.at).toBeLessThanOrEqual(0.4 * opts.sendMs);
      expect(plan.map((e) => e.at)).toEqual([...plan.map((e) => e.at)].sort((a, b) => a - b));
    }
  });
});

describe("readChaosState against what a real worker leaves in Redis", () => {
  let runner: ModelRunner;
  let h: Harness;

  beforeAll(async () => {
    const config = await testConfig({ MAX_NEW_TOKENS: "8" });
    runner = await loadTinyRunner(config);
    h = new Harness(config, runner);
    await h.startWorker();
  });

  afterAll(async () => {
    await h?.close();
    await runner?.close();
  });

  it("reads a clean run as clean, and catches a doubled assistant turn and a second final written into it", async () => {
    const client = h.client("chaos-reader");
    const requests: ChatRequest[] = [];
    for (const text of ["conversation r message 0", "conversation r message 1"]) requests.push(await client.submit(text));
    for (const r of requests) for await (const u of client.updates(r)) if (u.final) break;
    const sent: SentRecord[] = requests.map((r, index) => ({
      requestId: r.requestId,
      conversationKey: r.conversationKey,
      index,
      text: r.text,
      messageId: r.reply.messageId,
      attempts: 1,
      refusals: 0,
      acceptedAt: r.receivedAt,
    }));
    const traffic = new LocalTraffic({ conversations: 1, perConversation: 2, sendMs: 0, seed: 1, env: {}, dir: "/nonexistent" });
    const facts: CheckFacts = { redisCrashes: [], fsyncWindowMs: 2000 };
    const read = () => readChaosState(h.redis, h.keys, [{ traffic, sent }]);
    // The commit lands just after the final edit the client saw.
    let s = checkDelivery(await read(), sent, facts);
    for (let i = 0; i < 50 && s.stuck > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      s = checkDelivery(await read(), sent, facts);
    }
    expect(failures(s)).toEqual({});
    expect(s).toMatchObject({ answeredExactlyOnce: 2, ok: true });

    const conv = requests[0]!.conversationKey;
    await h.redis.rpush(h.keys.turns(conv), JSON.stringify({ role: "assistant", text: "again", at: Date.now() }));
    await h.redis.xadd(h.keys.replyStream(requests[0]!.reply.messageId), "*", "text", "a different answer", "final", "1");
    s = checkDelivery(await read(), sent, facts);
    expect(failures(s)).toEqual({ doubledAssistant: 1, duplicated: 1 });
    expect(s.ok).toBe(false);
  });
});
