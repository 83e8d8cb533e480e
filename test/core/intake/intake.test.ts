/**
 * The intake's steps with a fake platform that records every callback, and a scripted ingestor
 * (reserve → attach, or a refusal): the place is reserved before anything is posted and the
 * placeholder shows it; each outcome reaches the right callback (queued → queued; not signalled →
 * queued, no refusal; refused at the reservation → withdraw with no placeholder, the code and text;
 * duplicate → silent withdraw; a reservation that expired → the placeholder is withdrawn with the
 * generic text; a thrown bug → withdraw with the generic text); refusals before `prepare` never
 * post; replays are silent; a message that could not be placed gives its place up and can be taken
 * again. Claims run on the real Redis.
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { Intake, type IntakePlatform, type IntakeRefusal } from "../../../src/intake/Intake.ts";
import { INTAKE_TEXT } from "../../../src/intake/intakeMessages.ts";
import { Keys } from "../../../src/keys.ts";
import { createLogger } from "../../../src/logger.ts";
import type { ReservedRequest } from "../../../src/queue/ConversationInbox.ts";
import type { AttachOutcome, ReserveOutcome } from "../../../src/queue/Ingestor.ts";
import { createRedis } from "../../../src/redisConnection.ts";
import type { ChatRequest, ReplyTarget } from "../../../src/types.ts";

const redis = new Redis("redis://127.0.0.1:6379");
const keys = new Keys(`qbt-intake-${randomUUID().slice(0, 8)}`);
const logger = createLogger({ level: "silent" });

afterAll(async () => {
  const all = await redis.keys(`${keys.prefix}:*`);
  if (all.length) await redis.del(...all);
  redis.disconnect();
});

type Step = ["reserve", ReservedRequest] | ["attach", ChatRequest, number] | ["release", string];

/** An ingestor whose `reserve` and `attach` answer what the test says, recording every step. */
function scriptedIngestor(reserve: ReserveOutcome | Error, attach: AttachOutcome | Error = { status: "queued", ahead: 0, seq: 1 }) {
  const steps: Step[] = [];
  return {
    steps,
    check: (text: string) =>
      text.trim() === ""
        ? { status: "refused" as const, code: "EMPTY_MESSAGE" as const, userMessage: INTAKE_TEXT.empty }
        : text.length > 20
          ? { status: "refused" as const, code: "MESSAGE_TOO_LONG" as const, userMessage: INTAKE_TEXT.tooLong(text.length, 20) }
          : null,
    reserve: async (r: ReservedRequest): Promise<ReserveOutcome> => {
      steps.push(["reserve", r]);
      if (reserve instanceof Error) throw reserve;
      return reserve;
    },
    attach: async (request: ChatRequest, place: number): Promise<AttachOutcome> => {
      steps.push(["attach", request, place]);
      if (attach instanceof Error) throw attach;
      return attach;
    },
    release: async (_conv: string, requestId: string): Promise<void> => {
      steps.push(["release", requestId]);
    },
  };
}

const RESERVED = (ahead: number, seq = 1): ReserveOutcome => ({ status: "reserved", ahead, seq });

/** The requests a scripted ingestor was asked to attach (what the workers will answer). */
const attached = (ingestor: ReturnType<typeof scriptedIngestor>): ChatRequest[] =>
  ingestor.steps.filter((s) => s[0] === "attach").map((s) => s[1] as ChatRequest);

type Call =
  | ["admit"]
  | ["prepare"]
  | ["refuse", IntakeRefusal]
  | ["postPlaceholder", number]
  | ["withdraw", ReplyTarget | undefined, IntakeRefusal | undefined]
  | ["queued", ChatRequest];

/** A platform that records each callback in order; `opts` make a step say no. */
function fakePlatform(opts: { admit?: boolean; prepare?: boolean; post?: boolean; conversationKey?: string } = {}) {
  const calls: Call[] = [];
  const placeholder: ReplyTarget = { platform: "local", channelId: "room", messageId: `p-${randomUUID()}` };
  const platform: IntakePlatform = {
    admit: async () => {
      calls.push(["admit"]);
      return opts.admit ?? true;
    },
    prepare: async () => {
      calls.push(["prepare"]);
      if (opts.prepare === false) return null;
      return {
        requestId: `local-${randomUUID()}`,
        conversationKey: opts.conversationKey ?? `local:${randomUUID()}`,
        // Resolved after the place is reserved: the id is known at once.
        author: Promise.resolve({ id: "u1", name: "ann" }),
        authorId: "u1",
      };
    },
    refuse: async (r) => {
      calls.push(["refuse", r]);
    },
    postPlaceholder: async (_draft, ahead) => {
      calls.push(["postPlaceholder", ahead]);
      return opts.post === false ? null : placeholder;
    },
    withdraw: async (p, r) => {
      calls.push(["withdraw", p, r]);
    },
    queued: async (request) => {
      calls.push(["queued", request]);
    },
  };
  return { calls, platform, placeholder, names: () => calls.map((c) => c[0]) };
}

const claimKey = () => `${keys.prefix}:claim:${randomUUID()}`;
const intakeWith = (ingestor: ReturnType<typeof scriptedIngestor>, r: Redis = redis) => new Intake({ redis: r, keys, ingestor, logger });

describe("Intake.take: reserve, post, attach", () => {
  it("queued: the place is reserved first, the placeholder shows it, then the request is attached with its reply target", async () => {
    const conversationKey = `local:${randomUUID()}`;
    const ingestor = scriptedIngestor(RESERVED(2, 7), { status: "queued", ahead: 2, seq: 7 });
    const p = fakePlatform({ conversationKey });
    const result = await intakeWith(ingestor).take({ text: "hello", claimKey: claimKey() }, p.platform);
    expect(p.names()).toEqual(["admit", "prepare", "postPlaceholder", "queued"]);
    expect(ingestor.steps.map((s) => s[0])).toEqual(["reserve", "attach"]);
    expect(ingestor.steps[0]![1]).toMatchObject({ conversationKey, authorId: "u1", text: "hello" });
    expect(p.calls[2]).toEqual(["postPlaceholder", 2]);
    const request = (p.calls[3] as ["queued", ChatRequest])[1];
    expect(request).toMatchObject({ conversationKey, text: "hello", author: { id: "u1", name: "ann" }, reply: p.placeholder });
    expect(ingestor.steps[1]).toEqual(["attach", request, 2]);
    expect(request.receivedAt).toBe((ingestor.steps[0]![1] as ReservedRequest).receivedAt);
    expect(result).toMatchObject({ status: "queued", ahead: 2, seq: 7, request });
  });

  it("queued, not signalled: answered like queued — no refusal, nothing withdrawn", async () => {
    const ingestor = scriptedIngestor(RESERVED(0, 3), {
      status: "queued-unsignalled",
      ahead: 0,
      seq: 3,
      detail: "could not signal the workers",
    });
    const p = fakePlatform();
    const result = await intakeWith(ingestor).take({ text: "hello", claimKey: claimKey() }, p.platform);
    expect(p.names()).toEqual(["admit", "prepare", "postPlaceholder", "queued"]);
    expect(result.status).toBe("queued-unsignalled");
  });

  for (const code of ["QUEUE_FULL", "RATE_LIMITED", "REDIS_UNAVAILABLE"] as const) {
    it(`refused ${code} when reserving: nothing is posted; withdraw (no placeholder) says why`, async () => {
      const ingestor = scriptedIngestor({ status: "refused", code, userMessage: `text for ${code}` });
      const p = fakePlatform();
      const result = await intakeWith(ingestor).take({ text: "hello", claimKey: claimKey() }, p.platform);
      expect(p.names()).toEqual(["admit", "prepare", "withdraw"]);
      expect(p.calls[2]).toEqual(["withdraw", undefined, { code, userMessage: `text for ${code}` }]);
      expect(ingestor.steps.map((s) => s[0])).toEqual(["reserve"]);
      expect(result).toEqual({ status: "refused", refusal: { code, userMessage: `text for ${code}` }, posted: false });
    });
  }

  it("a duplicate (already queued under this request id) is withdrawn silently, before any placeholder", async () => {
    const ingestor = scriptedIngestor({ status: "refused", code: "DUPLICATE_MESSAGE", userMessage: INTAKE_TEXT.duplicate });
    const p = fakePlatform();
    const result = await intakeWith(ingestor).take({ text: "hello", claimKey: claimKey() }, p.platform);
    expect(p.calls.slice(-1)).toEqual([["withdraw", undefined, undefined]]);
    expect(p.names()).not.toContain("postPlaceholder");
    expect(result).toEqual({ status: "duplicate" });
  });

  it("a reservation that expired before the attach: the placeholder is withdrawn with the generic text and the claim released", async () => {
    const key = claimKey();
    const ingestor = scriptedIngestor(RESERVED(0), { status: "expired" });
    const p = fakePlatform();
    const result = await intakeWith(ingestor).take({ text: "hello", claimKey: key }, p.platform);
    expect(p.calls.slice(-1)).toEqual([
      ["withdraw", p.placeholder, { code: "INTERNAL_ERROR", userMessage: INTAKE_TEXT.somethingWrong, detail: "reservation expired" }],
    ]);
    expect(result).toMatchObject({ status: "refused", posted: true });
    expect(await redis.exists(key)).toBe(0);
  });

  it("an unexpected failure while reserving, or while attaching, is withdrawn with the generic text (INTERNAL_ERROR)", async () => {
    const early = fakePlatform();
    const r1 = await intakeWith(scriptedIngestor(new Error("boom"))).take({ text: "hello" }, early.platform);
    expect(early.calls.slice(-1)).toEqual([
      ["withdraw", undefined, { code: "INTERNAL_ERROR", userMessage: INTAKE_TEXT.somethingWrong, detail: "boom" }],
    ]);
    expect(r1).toMatchObject({ status: "refused", posted: false });

    const late = fakePlatform();
    const ingestor = scriptedIngestor(RESERVED(0), new Error("bang"));
    const r2 = await intakeWith(ingestor).take({ text: "hello" }, late.platform);
    expect(late.calls.slice(-1)).toEqual([
      ["withdraw", late.placeholder, { code: "INTERNAL_ERROR", userMessage: INTAKE_TEXT.somethingWrong, detail: "bang" }],
    ]);
    expect(ingestor.steps.map((s) => s[0])).toEqual(["reserve", "attach", "release"]);
    expect(r2).toMatchObject({ status: "refused", posted: true });
  });
});

describe("Intake.take: place and context", () => {
  it("the request carries the draft's place and its context, gathered while the placeholder shows", async () => {
    const ingestor = scriptedIngestor(RESERVED(0));
    const order: string[] = [];
    let release!: () => void;
    const loaded = new Promise<void>((r) => {
      release = r;
    });
    const place = { platform: "discord" as const, workspaceId: "g", channelId: "c", threadId: "t" };
    const platform: IntakePlatform = {
      prepare: () => ({
        requestId: `local-${randomUUID()}`,
        conversationKey: `local:${randomUUID()}`,
        author: { id: "u", name: "u" },
        place,
        context: loaded.then(() => {
          order.push("context");
          return { attachments: [{ name: "a.txt", mimeType: "text/plain", size: 2, text: "hi" }] };
        }),
      }),
      refuse: async () => {},
      postPlaceholder: async () => {
        order.push("placeholder");
        release();
        return { platform: "local", channelId: "room", messageId: randomUUID() };
      },
      withdraw: async () => {},
    };
    const result = await new Intake({ redis, keys, ingestor, logger }).take({ text: "see file" }, platform);
    expect(order).toEqual(["placeholder", "context"]);
    expect(result.status).toBe("queued");
    expect(attached(ingestor)[0]).toMatchObject({ place, context: { attachments: [{ name: "a.txt", text: "hi" }] } });
  });

  it("a context that fails to load, or is empty, is left out; the message is still taken", async () => {
    for (const context of [Promise.reject(new Error("download bug")), Promise.resolve({ thread: [] })]) {
      context.catch(() => {});
      const ingestor = scriptedIngestor(RESERVED(0));
      const platform: IntakePlatform = {
        prepare: () => ({ requestId: `local-${randomUUID()}`, conversationKey: "local:x", author: { id: "u", name: "u" }, context }),
        refuse: async () => {},
        postPlaceholder: async () => ({ platform: "local", channelId: "room", messageId: randomUUID() }),
        withdraw: async () => {},
      };
      expect((await new Intake({ redis, keys, ingestor, logger }).take({ text: "hi" }, platform)).status).toBe("queued");
      expect(attached(ingestor)[0]!.context).toBeUndefined();
      expect("place" in attached(ingestor)[0]!).toBe(false);
    }
  });
});

describe("Intake.take: before the placeholder", () => {
  it("an empty or over-long text is refused with its code; nothing is prepared, reserved or posted", async () => {
    for (const [text, code] of [
      [" \n ", "EMPTY_MESSAGE"],
      ["x".repeat(21), "MESSAGE_TOO_LONG"],
    ] as const) {
      const ingestor = scriptedIngestor(RESERVED(0));
      const p = fakePlatform();
      const result = await intakeWith(ingestor).take({ text, claimKey: claimKey() }, p.platform);
      expect(p.names()).toEqual(["admit", "refuse"]);
      expect((p.calls[1] as ["refuse", IntakeRefusal])[1].code).toBe(code);
      expect(ingestor.steps).toEqual([]);
      expect(result).toMatchObject({ status: "refused", posted: false });
    }
  });

  it("a replay finds the claim taken and is dropped without a word", async () => {
    const key = claimKey();
    const intake = intakeWith(scriptedIngestor(RESERVED(0)));
    expect((await intake.take({ text: "hi", claimKey: key }, fakePlatform().platform)).status).toBe("queued");
    const again = fakePlatform();
    expect(await intake.take({ text: "hi", claimKey: key }, again.platform)).toEqual({ status: "replay" });
    expect(again.calls).toEqual([]);
  });

  it("with Redis down the claim fails and the sender is told to try again (REDIS_UNAVAILABLE), nothing else", async () => {
    const dead = createRedis("redis://127.0.0.1:1", "producer");
    try {
      const p = fakePlatform();
      const result = await intakeWith(scriptedIngestor(RESERVED(0)), dead).take({ text: "hi", claimKey: claimKey() }, p.platform);
      expect(p.names()).toEqual(["refuse"]);
      expect((p.calls[0] as ["refuse", IntakeRefusal])[1]).toMatchObject({
        code: "REDIS_UNAVAILABLE",
        userMessage: INTAKE_TEXT.unavailable,
      });
      expect(result).toMatchObject({ status: "refused", posted: false });
    } finally {
      dead.disconnect();
    }
  });

  it("admit saying no stops there (the platform has answered)", async () => {
    const p = fakePlatform({ admit: false });
    const result = await intakeWith(scriptedIngestor(RESERVED(0))).take({ text: "hi", claimKey: claimKey() }, p.platform);
    expect(p.names()).toEqual(["admit"]);
    expect(result).toEqual({ status: "not-admitted" });
  });

  it("when prepare cannot post, nothing is reserved; when the placeholder cannot, the place is released; either way the claim is too", async () => {
    for (const opts of [{ prepare: false }, { post: false }]) {
      const key = claimKey();
      const ingestor = scriptedIngestor(RESERVED(0));
      const intake = intakeWith(ingestor);
      expect(await intake.take({ text: "hi", claimKey: key }, fakePlatform(opts).platform)).toEqual({ status: "not-placed" });
      expect(ingestor.steps.map((s) => s[0])).toEqual(opts.prepare === false ? [] : ["reserve", "release"]);
      expect(await redis.exists(key)).toBe(0);
      expect((await intake.take({ text: "hi", claimKey: key }, fakePlatform().platform)).status).toBe("queued");
    }
  });
});
