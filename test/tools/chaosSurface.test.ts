/**
 * The chaos run's platform checker can fail: fed what a platform shows with a duplicate
 * placeholder, a reply stuck at "Thinking…", a live Stop button, a missing answer, or a deleted
 * reply the bot kept writing, it reports each; a clean observation passes, and a placeholder
 * of a message Redis itself lost is excused. Also the Redis-side checker on deleted replies and
 * on answers the platform renders.
 */
import { describe, expect, it } from "vitest";
import { summarize } from "../../tools/chaos/chaosSummary.ts";
import { checkDelivery, type SentRecord } from "../../tools/chaos/checkDelivery.ts";
import {
  type BotMessageView,
  checkSurface,
  type Deletion,
  SURFACE_FAILURES,
  type SurfaceSummary,
  surfaceOk,
} from "../../tools/chaos/checkSurface.ts";
import { isRefusal } from "../../tools/chaos/platformTraffic.ts";

const T0 = 1_700_000_000_000;
const OPTS = { lostByRedis: new Set<string>(), graceMs: 10_000 };

const answer = (n: number, extra: Partial<BotMessageView> = {}): BotMessageView => ({
  messageId: `bot-${n}`,
  userMessageId: `user-${n}`,
  text: `answer ${n}`,
  placeholder: false,
  live: false,
  refusal: false,
  deleted: false,
  postedAt: T0 + n * 1000,
  ...extra,
});

/** Three questions, each answered by one message. */
function clean() {
  return {
    platform: "discord",
    taken: ["user-0", "user-1", "user-2"],
    messages: [answer(0), answer(1), answer(2)],
    deletions: [] as Deletion[],
    writesToDeleted: [] as Array<{ messageId: string; at: number }>,
  };
}

function failures(s: SurfaceSummary): Record<string, number> {
  return Object.fromEntries(SURFACE_FAILURES.filter(([f]) => s[f] !== 0).map(([f]) => [f, s[f]]));
}

describe("checkSurface", () => {
  it("passes a clean observation, and a refusal left next to an answer is no second reply", () => {
    const o = clean();
    o.messages.push(answer(9, { userMessageId: "user-1", text: "⚠️ I can't take messages right now", refusal: true }));
    const s = checkSurface(o, OPTS);
    expect(failures(s)).toEqual({});
    expect(s.answerChains).toBe(3);
    expect(surfaceOk(s)).toBe(true);
  });

  const broken: Array<[string, (o: ReturnType<typeof clean>) => void, Record<string, number>]> = [
    [
      "a duplicate placeholder (answered in one, the other finished too)",
      (o) => o.messages.push(answer(7, { userMessageId: "user-1", text: "answer 1 again" })),
      { duplicatePlaceholders: 1 },
    ],
    [
      "a duplicate placeholder left at Thinking… with its Stop button",
      (o) => o.messages.push(answer(7, { userMessageId: "user-2", text: "⏳ Thinking…", placeholder: true, live: true })),
      { duplicatePlaceholders: 1, stuckPlaceholders: 1 },
    ],
    [
      "the only reply stuck at Thinking…",
      (o) => Object.assign(o.messages[0]!, { text: "⏳ Thinking…", placeholder: true, live: true }),
      { stuckPlaceholders: 1 },
    ],
    ["a finished answer that kept its Stop button", (o) => Object.assign(o.messages[1]!, { live: true }), { liveStopButtons: 1 }],
    ["a taken question with no reply shown", (o) => o.messages.splice(2, 1), { missingAnswers: 1 }],
    ["a taken question whose reply the bot withdrew", (o) => Object.assign(o.messages[2]!, { deleted: true }), { missingAnswers: 1 }],
    [
      "a new message posted for a reply a moderator deleted",
      (o) => {
        Object.assign(o.messages[0]!, { deleted: true });
        o.deletions.push({ userMessageId: "user-0", messageId: "bot-0", at: T0 + 5000 });
        o.messages.push(answer(8, { userMessageId: "user-0", postedAt: T0 + 6000 }));
      },
      { continuedAfterDelete: 1 },
    ],
    [
      "edits aimed at a deleted reply long after its deletion",
      (o) => {
        Object.assign(o.messages[0]!, { deleted: true });
        o.deletions.push({ userMessageId: "user-0", messageId: "bot-0", at: T0 + 5000 });
        o.writesToDeleted.push({ messageId: "bot-0", at: T0 + 5200 }, { messageId: "bot-0", at: T0 + 30_000 });
      },
      { continuedAfterDelete: 1 },
    ],
  ];

  it.each(broken)("fails %s", (_name, breakIt, expected) => {
    const o = clean();
    breakIt(o);
    const s = checkSurface(o, OPTS);
    expect(failures(s)).toEqual(expected);
    expect(surfaceOk(s)).toBe(false);
    expect(s.problems.length).toBeGreaterThan(0);
  });

  it("passes a deleted reply the bot stopped writing (one edit in flight within the grace)", () => {
    const o = clean();
    Object.assign(o.messages[0]!, { deleted: true, live: true, placeholder: true });
    o.deletions.push({ userMessageId: "user-0", messageId: "bot-0", at: T0 + 5000 });
    o.writesToDeleted.push({ messageId: "bot-0", at: T0 + 5200 });
    expect(failures(checkSurface(o, OPTS))).toEqual({});
  });

  it("excuses a placeholder of a message Redis lost in its crash, and only that", () => {
    const o = clean();
    Object.assign(o.messages[1]!, { text: "⏳ Thinking…", placeholder: true, live: true });
    expect(failures(checkSurface(o, { ...OPTS, lostByRedis: new Set(["user-1"]) }))).toEqual({});
    expect(failures(checkSurface(o, { ...OPTS, lostByRedis: new Set(["user-2"]) }))).toEqual({ stuckPlaceholders: 1 });
  });
});

describe("checkDelivery on platform conversations", () => {
  const record = (i: number, extra: Partial<SentRecord> = {}): SentRecord => ({
    requestId: `discord-${i}`,
    conversationKey: "discord:g:c",
    index: i,
    text: `conversation 0 message ${i}`,
    messageId: `user-${i}`,
    attempts: 1,
    refusals: 0,
    acceptedAt: T0 + i * 1000,
    ...extra,
  });
  const facts = { redisCrashes: [], fsyncWindowMs: 2000 };

  it("compares what the platform shows with the stored answer as the platform renders it", () => {
    const state = {
      turns: {
        "discord:g:c": [
          { role: "user" as const, text: "conversation 0 message 0" },
          { role: "assistant" as const, text: "" },
        ],
      },
      replyStates: { "discord-0": "done" },
      delivered: { "discord-0": [{ text: "…" }] },
      waiting: {},
    };
    expect(checkDelivery(state, [record(0)], facts).deliveredNotStored).toBe(1);
    const rendered = checkDelivery({ ...state, render: (_c: string, t: string) => (t === "" ? "…" : t) }, [record(0)], facts);
    expect(rendered).toMatchObject({ deliveredNotStored: 0, answeredExactlyOnce: 1, ok: true });
  });

  it("counts a deleted reply that ended stopped with nothing remembered, and fails one still shown or remembered twice", () => {
    const base = () => ({
      turns: { "discord:g:c": [] as Array<{ role: "user" | "assistant"; text: string }> },
      replyStates: { "discord-0": "done" } as Record<string, string | undefined>,
      delivered: { "discord-0": [] as Array<{ text: string }> },
      waiting: {},
    });
    const sent = [record(0, { replyDeleted: true })];
    expect(checkDelivery(base(), sent, facts)).toMatchObject({ deletedStopped: 1, ok: true });
    const shown = base();
    shown.delivered["discord-0"] = [{ text: "an answer after all" }];
    expect(checkDelivery(shown, sent, facts)).toMatchObject({ deletedStopped: 0, duplicated: 1, ok: false });
    const generating = base();
    generating.replyStates["discord-0"] = "generating";
    expect(checkDelivery(generating, sent, facts)).toMatchObject({ stuck: 1, ok: false });
  });

  it("does not order attempts of one message among themselves, but still orders messages", () => {
    const sent = [
      record(0),
      record(1, { index: 1.01, text: "m1" }),
      record(2, { index: 1.03, text: "m1 try 3" }),
      record(3, { index: 2.01, text: "m2" }),
    ];
    const turns = (texts: string[]) =>
      texts.flatMap((t) => [
        { role: "user" as const, text: t },
        { role: "assistant" as const, text: `answer to ${t}` },
      ]);
    const state = (texts: string[]) => ({
      turns: { "discord:g:c": turns(texts) },
      replyStates: Object.fromEntries(sent.map((r) => [r.requestId, "done"])),
      delivered: Object.fromEntries(sent.map((r) => [r.requestId, [{ text: `answer to ${r.text}` }]])),
      waiting: {},
    });
    expect(checkDelivery(state(["conversation 0 message 0", "m1 try 3", "m1", "m2"]), sent, facts)).toMatchObject({
      outOfOrder: 0,
      ok: true,
    });
    expect(checkDelivery(state(["conversation 0 message 0", "m1 try 3", "m2", "m1"]), sent, facts)).toMatchObject({
      outOfOrder: 1,
      ok: false,
    });
  });
});

describe("the run's verdict with platforms", () => {
  it("fails the run on a platform's surface failure even when Redis is all clean, and prints each platform's figures", () => {
    const o = clean();
    o.messages.push(answer(7, { userMessageId: "user-1", text: "⏳ Thinking…", placeholder: true, live: true }));
    const surface = checkSurface(o, OPTS);
    const summary = checkDelivery({ turns: {}, replyStates: {}, delivered: {}, waiting: {} }, [], {
      redisCrashes: [],
      fsyncWindowMs: 2000,
    });
    const run = {
      name: "slack",
      sent: 3,
      retries: 1,
      adapterKills: 2,
      faults: ["slack-update-429", "slack-update-429", "slack-delete-reply"],
      recoveries: [12.5],
      surface,
    };
    const v = summarize({
      seed: 1,
      platforms: ["slack"],
      killsPerWorker: [1, 1],
      appendfsync: "everysec",
      redisCrashes: [],
      delayedFsyncBeforeCrash: [],
      fsyncWindowMs: 2000,
      sendingFrom: T0,
      sendingUntil: T0 + 1000,
      sent: [],
      summary,
      platformRuns: [run],
    });
    const text = v.lines.join("\n");
    expect(v.ok).toBe(false);
    expect(text).toMatch(/result\s+FAIL[\s\S]*slack: second reply messages: 1[\s\S]*slack: left at Thinking…\/Waiting: 1/);
    expect(text).toMatch(/adapter SIGKILLs\s+2; answering again after 12\.5 s/);
    expect(text).toMatch(/slack-update-429 ×2; slack-delete-reply ×1/);
    const clean2 = summarize({
      seed: 1,
      platforms: ["slack"],
      killsPerWorker: [1, 1],
      appendfsync: "everysec",
      redisCrashes: [],
      delayedFsyncBeforeCrash: [],
      fsyncWindowMs: 2000,
      sendingFrom: T0,
      sendingUntil: T0 + 1000,
      sent: [],
      summary,
      platformRuns: [{ ...run, surface: checkSurface(clean(), OPTS) }],
    });
    expect(clean2.ok).toBe(true);
  });
});

describe("isRefusal", () => {
  it("tells every intake refusal (with or without the refused placeholder's ⚠️) from an answer", () => {
    expect(isRefusal("I can't take messages right now — please try again in a minute.")).toBe(true);
    expect(isRefusal("⚠️ I can't take messages right now — please try again in a minute.")).toBe(true);
    expect(isRefusal("You're sending messages faster than I can answer (9 in the last minute). Please wait a moment and try again.")).toBe(
      true,
    );
    expect(isRefusal("This conversation already has 3 messages waiting. Please wait for the answers before sending more.")).toBe(true);
    expect(isRefusal("an answer")).toBe(false);
    expect(isRefusal("⏳ Thinking…")).toBe(false);
  });
});
