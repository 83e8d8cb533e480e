/**
 * /imagine through the intake, on the real Redis, with a platform that records its callbacks:
 * options checked before anything is posted (each refusal names what is allowed), no engine
 * configured refused with how to set one up, the request queued in the image lane (its own inbox,
 * job and per-user limit, apart from text) with the checked options and a drawn seed, the place
 * in line, replays dropped, and Regenerate's request shape (same picture, new seed).
 */
import { afterAll, describe, expect, it } from "vitest";
import { IMAGE_ENGINE_NOT_CONFIGURED_MESSAGE, IMAGINE_TEXT } from "../../../src/images/imagineText.ts";
import { type ImagineIntake, regenerateInput } from "../../../src/intake/ImagineIntake.ts";
import type { IntakePlatform, IntakeRefusal } from "../../../src/intake/Intake.ts";
import { createChatQueue } from "../../../src/queue/Ingestor.ts";
import type { ReplyTarget } from "../../../src/types.ts";
import { ImageHarness, imageTestConfig } from "../../helpers/imageHarness.ts";

const h = new ImageHarness(imageTestConfig({ IMAGE_MAX_PROMPT_CHARS: "40" }));
afterAll(async () => {
  await h.close();
});

let n = 0;
/** A Discord-like platform recording its callbacks; one user, one channel unless told. */
function platform(conv = "discord:g:c1", user = "u1") {
  const id = `i${++n}`;
  const log: { refused?: IntakeRefusal; withdrawn?: IntakeRefusal | undefined; posted: number[] } = { posted: [] };
  const p: IntakePlatform = {
    prepare: () => ({ requestId: id, conversationKey: conv, author: { id: user, name: "Ada" } }),
    postPlaceholder: async (_draft, ahead): Promise<ReplyTarget> => {
      log.posted.push(ahead);
      return { platform: "discord", channelId: "c1", messageId: `m-${id}` };
    },
    refuse: async (r) => {
      log.refused = r;
    },
    withdraw: async (_t, r) => {
      log.withdrawn = r;
    },
  };
  return { p, log, id };
}

describe("ImagineIntake", () => {
  it("queues an ImagineRequest with the checked options and a drawn seed in the image lane, apart from text", async () => {
    const intake = h.intake({ drawSeed: () => 777 });
    const { p, log } = platform("discord:g:lane");
    const r = await intake.take({ input: { prompt: "  a cat\u0000 on the moon ", size: "96x64", steps: "12" } }, p);
    expect(r.status).toBe("queued");
    if (r.status !== "queued") return;
    expect(r.request).toMatchObject({
      kind: "imagine",
      text: "a cat on the moon",
      conversationKey: "discord:g:lane",
      imagine: { prompt: "a cat on the moon", negativePrompt: "", width: 96, height: 64, steps: 12, seed: 777, seedWasRandom: true },
    });
    expect(log.posted).toEqual([0]);
    expect(await h.redis.zrange(h.imageKeys.inbox("discord:g:lane"), 0, -1)).toEqual([r.request.requestId]);
    expect(await h.redis.zcard(h.keys.inbox("discord:g:lane"))).toBe(0);
    expect(JSON.parse((await h.redis.get(h.keys.request(r.request.requestId)))!)).toEqual(r.request);
    expect((await h.queue.getJobCounts("waiting")).waiting).toBe(1);
    const chat = createChatQueue(h.redis, h.keys);
    expect((await chat.getJobCounts("waiting")).waiting).toBe(0);
    await chat.close();
    expect(await intake.optionsOf(r.request.requestId)).toEqual(r.request.imagine);
  });

  it("shows the place in line among the conversation's images", async () => {
    const intake = h.intake();
    const first = platform("discord:g:line");
    const second = platform("discord:g:line");
    await intake.take({ input: { prompt: "one" } }, first.p);
    await intake.take({ input: { prompt: "two" } }, second.p);
    expect([first.log.posted, second.log.posted]).toEqual([[0], [1]]);
  });

  it("refuses bad options before posting anything, naming what is allowed", async () => {
    const intake = h.intake();
    const cases: Array<[Record<string, string>, string, RegExp]> = [
      [{ prompt: "   " }, "EMPTY_MESSAGE", /Describe the image you want/],
      [{ prompt: "x".repeat(41) }, "MESSAGE_TOO_LONG", /41 characters long; the most is 40/],
      [{ prompt: "cat", size: "512x512" }, "IMAGE_OPTION_INVALID", /choose 64x64 or 96x64/],
      [{ prompt: "cat", steps: "99" }, "IMAGE_OPTION_INVALID", /from 1 to 20/],
      [{ prompt: "cat", seed: "-5" }, "IMAGE_OPTION_INVALID", /Seed must be/],
    ];
    for (const [input, code, text] of cases) {
      const { p, log } = platform("discord:g:bad");
      const r = await intake.take({ input }, p);
      expect(r.status, JSON.stringify(input)).toBe("refused");
      expect(log.refused?.code).toBe(code);
      expect(log.refused?.userMessage).toMatch(text);
      expect(log.posted).toEqual([]);
    }
    expect(await h.redis.zcard(h.imageKeys.inbox("discord:g:bad"))).toBe(0);
  });

  it("with no engine configured, refuses with how to set one up", async () => {
    const { p, log } = platform("discord:g:none");
    const r = await h.intake({ engineConfigured: false }).take({ input: { prompt: "a cat" } }, p);
    expect(r.status).toBe("refused");
    expect(log.refused).toEqual({ code: "IMAGE_ENGINE_NOT_CONFIGURED", userMessage: IMAGE_ENGINE_NOT_CONFIGURED_MESSAGE });
    expect(log.posted).toEqual([]);
  });

  it("limits each user's images per minute on their own counter, and drops a replayed interaction", async () => {
    const intake = h.intake({ userImagesPerMinute: 1 });
    const first = platform("discord:g:rate1", "busy");
    expect((await intake.take({ input: { prompt: "one" }, claimKey: `${h.keys.prefix}:claim:x1` }, first.p)).status).toBe("queued");
    const replay = platform("discord:g:rate1", "busy");
    expect((await intake.take({ input: { prompt: "one" }, claimKey: `${h.keys.prefix}:claim:x1` }, replay.p)).status).toBe("replay");
    const second = platform("discord:g:rate2", "busy");
    const r = await intake.take({ input: { prompt: "two" } }, second.p);
    expect(r.status).toBe("refused");
    expect(second.log.withdrawn?.code).toBe("RATE_LIMITED");
    // The text lane's counter is untouched: images do not eat into a user's chat messages.
    expect(await h.redis.keys(`${h.keys.prefix}:rate:*`)).toEqual([]);
    expect((await h.redis.keys(`${h.keys.prefix}:imgrate:*`)).length).toBe(1);
  });

  it("Regenerate: the same prompt, size and steps with a new seed, as a new request; refused when the original is gone", async () => {
    let seed = 100;
    const intake: ImagineIntake = h.intake({ drawSeed: () => seed++ });
    const original = await intake.take(
      { input: { prompt: "a fox", negativePrompt: "rain", size: "96x64", steps: 5, seed: 9 } },
      platform("discord:g:re").p,
    );
    if (original.status !== "queued") throw new Error(original.status);
    const again = await intake.regenerate({ requestId: original.request.requestId }, platform("discord:g:re").p);
    if (again.status !== "queued") throw new Error(again.status);
    expect(again.request.regenerateOf).toBe(original.request.requestId);
    expect(again.request.requestId).not.toBe(original.request.requestId);
    expect(again.request.imagine).toEqual({ ...original.request.imagine, seed: 100, seedWasRandom: true });
    expect(regenerateInput(original.request.imagine)).toEqual({
      prompt: "a fox",
      negativePrompt: "rain",
      size: "96x64",
      steps: 5,
      seed: "random",
    });

    const gone = platform("discord:g:re");
    expect((await intake.regenerate({ requestId: "no-such-request" }, gone.p)).status).toBe("refused");
    expect(gone.log.refused).toEqual({ code: "IMAGE_OPTION_INVALID", userMessage: IMAGINE_TEXT.regenerateGone });
  });
});
