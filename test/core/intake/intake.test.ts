/**
 * The intake's steps with a fake platform that records every callback, and a scripted ingest
 * outcome: each outcome reaches the right callback (queued → queued; not signalled → queued, no
 * refusal; refused → withdraw with the code and text; duplicate → silent withdraw; a thrown bug →
 * withdraw with the generic text), refusals before the placeholder never post one, replays are
 * silent, and a message that could not be placed can be taken again. Claims run on the real Redis.
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { Intake, type IntakePlatform, type IntakeRefusal } from "../../../src/intake/Intake.ts";
import { INTAKE_TEXT } from "../../../src/intake/intakeMessages.ts";
import { Keys } from "../../../src/keys.ts";
import { createLogger } from "../../../src/logger.ts";
import type { IngestOutcome } from "../../../src/queue/Ingestor.ts";
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

/** An ingestor whose `ingest` answers what the test says, and records what it was given. */
function scriptedIngestor(outcome: IngestOutcome | Error) {
  const ingested: ChatRequest[] = [];
  return {
    ingested,
    check: (text: string) =>
      text.trim() === ""
        ? { status: "refused" as const, code: "EMPTY_MESSAGE" as const, userMessage: INTAKE_TEXT.empty }
        : text.length > 20
          ? { status: "refused" as const, code: "MESSAGE_TOO_LONG" as const, userMessage: INTAKE_TEXT.tooLong(text.length, 20) }
          : null,
    ingest: async (request: ChatRequest): Promise<IngestOutcome> => {
      ingested.push(request);
      if (outcome instanceof Error) throw outcome;
      return outcome;
    },
  };
}

type Call =
  | ["admit"]
  | ["prepare"]
  | ["refuse", IntakeRefusal]
  | ["postPlaceholder", number]
  | ["withdraw", ReplyTarget, IntakeRefusal | undefined]
  | ["queued", ChatRequest];

/** A platform that records each callback in order; `opts` make a step say no. */
function fakePlatform(opts: { admit?: boolean; prepare?: boolean; post?: boolean; conversationKey?: string } = {}) {
  const calls: Call[] = [];
  const placeholder: ReplyTarget = { platform: "local", channelId: "room", messageId: `p-${randomUUID()}` };
  const platform: IntakePlatform = {
    showsPlaceInLine: true,
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
        // Resolved after the placeholder is posted.
        author: Promise.resolve({ id: "u1", name: "ann" }),
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

describe("Intake.take: each ingest outcome reaches its callback", () => {
  it("queued: placeholder first (with the place in line), then the request is queued with its reply target", async () => {
    const conversationKey = `local:${randomUUID()}`;
    await redis.zadd(keys.inbox(conversationKey), 1, "earlier-1", 2, "earlier-2");
    const ingestor = scriptedIngestor({ status: "queued", ahead: 2, seq: 7 });
    const p = fakePlatform({ conversationKey });
    const result = await new Intake({ redis, keys, ingestor, logger }).take({ text: "hello", claimKey: claimKey() }, p.platform);
    expect(p.names()).toEqual(["admit", "prepare", "postPlaceholder", "queued"]);
    expect(p.calls[2]).toEqual(["postPlaceholder", 2]);
    const request = (p.calls[3] as ["queued", ChatRequest])[1];
    expect(request).toMatchObject({ conversationKey, text: "hello", author: { id: "u1", name: "ann" }, reply: p.placeholder });
    expect(ingestor.ingested).toEqual([request]);
    expect(result).toMatchObject({ status: "queued", ahead: 2, seq: 7, request });
  });

  it("queued, not signalled: answered like queued — no refusal, nothing withdrawn", async () => {
    const ingestor = scriptedIngestor({ status: "queued-unsignalled", ahead: 0, seq: 3, detail: "could not signal the workers" });
    const p = fakePlatform();
    const result = await new Intake({ redis, keys, ingestor, logger }).take({ text: "hello", claimKey: claimKey() }, p.platform);
    expect(p.names()).toEqual(["admit", "prepare", "postPlaceholder", "queued"]);
    expect(result.status).toBe("queued-unsignalled");
  });

  for (const code of ["QUEUE_FULL", "RATE_LIMITED", "REDIS_UNAVAILABLE"] as const) {
    it(`refused ${code} after the placeholder: it is withdrawn with the code and the sender's text`, async () => {
      const ingestor = scriptedIngestor({ status: "refused", code, userMessage: `text for ${code}` });
      const p = fakePlatform();
      const result = await new Intake({ redis, keys, ingestor, logger }).take({ text: "hello", claimKey: claimKey() }, p.platform);
      expect(p.names()).toEqual(["admit", "prepare", "postPlaceholder", "withdraw"]);
      expect(p.calls[3]).toEqual(["withdraw", p.placeholder, { code, userMessage: `text for ${code}` }]);
      expect(result).toEqual({ status: "refused", refusal: { code, userMessage: `text for ${code}` }, posted: true });
    });
  }

  it("a duplicate (already queued under this request id) is withdrawn silently", async () => {
    const ingestor = scriptedIngestor({ status: "refused", code: "DUPLICATE_MESSAGE", userMessage: INTAKE_TEXT.duplicate });
    const p = fakePlatform();
    const result = await new Intake({ redis, keys, ingestor, logger }).take({ text: "hello", claimKey: claimKey() }, p.platform);
    expect(p.calls.slice(-1)).toEqual([["withdraw", p.placeholder, undefined]]);
    expect(p.names()).not.toContain("refuse");
    expect(result).toEqual({ status: "duplicate" });
  });

  it("an unexpected failure while queueing withdraws the placeholder with the generic text (INTERNAL_ERROR)", async () => {
    const ingestor = scriptedIngestor(new Error("boom"));
    const p = fakePlatform();
    const result = await new Intake({ redis, keys, ingestor, logger }).take({ text: "hello" }, p.platform);
    expect(p.calls.slice(-1)).toEqual([
      ["withdraw", p.placeholder, { code: "INTERNAL_ERROR", userMessage: INTAKE_TEXT.somethingWrong, detail: "boom" }],
    ]);
    expect(result.status).toBe("refused");
  });
});

describe("Intake.take: place and context", () => {
  it("the request carries the draft's place and its context, gathered while the placeholder shows", async () => {
    const ingestor = scriptedIngestor({ status: "queued", ahead: 0, seq: 1 });
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
    expect(ingestor.ingested[0]).toMatchObject({ place, context: { attachments: [{ name: "a.txt", text: "hi" }] } });
  });

  it("a context that fails to load, or is empty, is left out; the message is still taken", async () => {
    for (const context of [Promise.reject(new Error("download bug")), Promise.resolve({ thread: [] })]) {
      context.catch(() => {});
      const ingestor = scriptedIngestor({ status: "queued", ahead: 0, seq: 1 });
      const platform: IntakePlatform = {
        prepare: () => ({ requestId: `local-${randomUUID()}`, conversationKey: "local:x", author: { id: "u", name: "u" }, context }),
        refuse: async () => {},
        postPlaceholder: async () => ({ platform: "local", channelId: "room", messageId: randomUUID() }),
        withdraw: async () => {},
      };
      expect((await new Intake({ redis, keys, ingestor, logger }).take({ text: "hi" }, platform)).status).toBe("queued");
      expect(ingestor.ingested[0]!.context).toBeUndefined();
      expect("place" in ingestor.ingested[0]!).toBe(false);
    }
  });
});

describe("Intake.take: before the placeholder", () => {
  it("an empty or over-long text is refused with its code; nothing is prepared, posted or queued", async () => {
    for (const [text, code] of [
      [" \n ", "EMPTY_MESSAGE"],
      ["x".repeat(21), "MESSAGE_TOO_LONG"],
    ] as const) {
      const ingestor = scriptedIngestor({ status: "queued", ahead: 0, seq: 1 });
      const p = fakePlatform();
      const result = await new Intake({ redis, keys, ingestor, logger }).take({ text, claimKey: claimKey() }, p.platform);
      expect(p.names()).toEqual(["admit", "refuse"]);
      expect((p.calls[1] as ["refuse", IntakeRefusal])[1].code).toBe(code);
      expect(ingestor.ingested).toEqual([]);
      expect(result).toMatchObject({ status: "refused", posted: false });
    }
  });

  it("a replay finds the claim taken and is dropped without a word", async () => {
    const key = claimKey();
    const intake = new Intake({ redis, keys, ingestor: scriptedIngestor({ status: "queued", ahead: 0, seq: 1 }), logger });
    expect((await intake.take({ text: "hi", claimKey: key }, fakePlatform().platform)).status).toBe("queued");
    const again = fakePlatform();
    expect(await intake.take({ text: "hi", claimKey: key }, again.platform)).toEqual({ status: "replay" });
    expect(again.calls).toEqual([]);
  });

  it("with Redis down the claim fails and the sender is told to try again (REDIS_UNAVAILABLE), nothing else", async () => {
    const dead = createRedis("redis://127.0.0.1:1", "producer");
    try {
      const p = fakePlatform();
      const intake = new Intake({ redis: dead, keys, ingestor: scriptedIngestor({ status: "queued", ahead: 0, seq: 1 }), logger });
      const result = await intake.take({ text: "hi", claimKey: claimKey() }, p.platform);
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
    const ingestor = scriptedIngestor({ status: "queued", ahead: 0, seq: 1 });
    const result = await new Intake({ redis, keys, ingestor, logger }).take({ text: "hi", claimKey: claimKey() }, p.platform);
    expect(p.names()).toEqual(["admit"]);
    expect(result).toEqual({ status: "not-admitted" });
  });

  it("when prepare or the placeholder cannot post, the claim is released so a redelivery can try again", async () => {
    for (const opts of [{ prepare: false }, { post: false }]) {
      const key = claimKey();
      const ingestor = scriptedIngestor({ status: "queued", ahead: 0, seq: 1 });
      const intake = new Intake({ redis, keys, ingestor, logger });
      expect(await intake.take({ text: "hi", claimKey: key }, fakePlatform(opts).platform)).toEqual({ status: "not-placed" });
      expect(ingestor.ingested).toEqual([]);
      expect(await redis.exists(key)).toBe(0);
      expect((await intake.take({ text: "hi", claimKey: key }, fakePlatform().platform)).status).toBe("queued");
    }
  });
});
