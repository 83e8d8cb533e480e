/**
 * What an image worker asks of a platform's sink (ReplySink.showImage), with recording sinks
 * standing in for Discord and Slack: previews and the result replace each other in the
 * placeholder; a sink without images gets text-only progress and a note; an upload the platform
 * refuses (413) ends in text; a 429 on the result is waited out; a sink that moves the reply to
 * another message is followed, and the move is remembered for a retry.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { PlatformError, PlatformRateLimitedError } from "../../../src/errors.ts";
import { IMAGINE_TEXT } from "../../../src/images/imagineText.ts";
import type { IntakePlatform } from "../../../src/intake/Intake.ts";
import type { EditOptions, ImagineRequest, ReplyImage, ReplySink, ReplyTarget } from "../../../src/types.ts";
import { A1111Engine } from "../../../workers/images/A1111Engine.ts";
import type { ImageEvent } from "../../../workers/images/ImageWorker.ts";
import { ImageHarness, imageTestConfig, until } from "../../helpers/imageHarness.ts";
import { ImageEngineSimulator } from "../../sim/images/ImageEngineSimulator.ts";

type Call =
  | { kind: "edit"; target: ReplyTarget; text: string; opts: EditOptions }
  | { kind: "image"; target: ReplyTarget; image: ReplyImage };

/** A Discord-like sink that records what it was asked to show; `showImage` left out for a text-only surface. */
class RecordingSink implements ReplySink {
  readonly maxLength = 2000;
  readonly calls: Call[] = [];
  failImage?: (image: ReplyImage, n: number) => Error | undefined;
  moveTo?: ReplyTarget;
  showImage?: (target: ReplyTarget, image: ReplyImage) => Promise<ReplyTarget | undefined>;

  constructor(images: boolean) {
    if (images) {
      this.showImage = async (target, image) => {
        const err = this.failImage?.(image, this.calls.length);
        if (err) throw err;
        this.calls.push({ kind: "image", target, image });
        const moved = this.moveTo;
        this.moveTo = undefined;
        return moved;
      };
    }
  }

  async edit(target: ReplyTarget, text: string, opts: EditOptions): Promise<void> {
    this.calls.push({ kind: "edit", target, text, opts });
  }

  post(): Promise<ReplyTarget> {
    return Promise.reject(new Error("image replies never post follow-ups"));
  }

  get final(): Call | undefined {
    return this.calls.find((c) => (c.kind === "edit" ? c.opts.final : c.image.final));
  }
}

let sim: ImageEngineSimulator;
let h: ImageHarness;
let n = 0;

beforeAll(async () => {
  sim = await ImageEngineSimulator.start({ stepDelayMs: 60 });
  h = new ImageHarness(imageTestConfig({ IMAGE_UPDATE_INTERVAL_MS: "250" }));
});
afterEach(async () => {
  await h.closeWorkers();
  sim.requests.length = 0;
});
afterAll(async () => {
  await h?.close();
  await sim?.stop();
});

/** Start a worker writing Discord replies to `sink`, and send one /imagine from a Discord channel. */
async function imagine(sink: RecordingSink, prompt = "a red kite"): Promise<{ request: ImagineRequest; events: ImageEvent[] }> {
  const engine = new A1111Engine({ baseUrl: sim.url, timeoutMs: 30_000, previewIntervalMs: 15 });
  const w = await h.startWorker({ engine, sinks: { discord: sink } });
  const events: ImageEvent[] = [];
  w.worker.on("image", (e) => events.push(e));
  const id = `d-${++n}`;
  const platform: IntakePlatform = {
    prepare: () => ({ requestId: id, conversationKey: `discord:g1:c${n}`, author: { id: "u1", name: "Ada" } }),
    postPlaceholder: async () => ({ platform: "discord", channelId: `c${n}`, messageId: `m-${id}` }),
    refuse: async () => {},
    withdraw: async () => {},
  };
  const result = await h.intake().take({ input: { prompt, seed: 3 } }, platform);
  if (result.status !== "queued") throw new Error(`not queued: ${result.status}`);
  return { request: result.request, events };
}

const settled = (r: ImagineRequest) => until(async () => ["done", "failed"].includes((await h.replyState(r)) ?? ""), "the commit");

describe("a platform sink with showImage", () => {
  it("previews replace each other in the placeholder, at most one per interval, then the final result with its caption", async () => {
    const sink = new RecordingSink(true);
    const { request } = await imagine(sink);
    await settled(request);
    const images = sink.calls.filter((c) => c.kind === "image");
    const last = images.at(-1)!;
    expect(last.image).toMatchObject({ final: true, filename: "imagine-3.png", alt: "a red kite", mime: "image/png" });
    expect(last.image.caption).toBe("a red kite\n64×64 · 8 steps · seed 3");
    expect(images.slice(0, -1).every((c) => !c.image.final && /^preview-\d+\.png$/.test(c.image.filename))).toBe(true);
    expect(sink.calls.every((c) => c.target.messageId === request.reply.messageId)).toBe(true);
    expect(await h.turns(request.conversationKey)).toMatchObject([{ role: "user", name: "Ada" }, { role: "assistant" }]);
  });

  it("an upload the platform refuses (413) ends in text saying so; nothing is remembered", async () => {
    const sink = new RecordingSink(true);
    sink.failImage = (image) => (image.final ? new PlatformError("Request entity too large", 413) : undefined);
    const { request, events } = await imagine(sink);
    await settled(request);
    const final = sink.final!;
    expect(final.kind).toBe("edit");
    if (final.kind === "edit") {
      expect(final.opts.note).toBe(IMAGINE_TEXT.uploadRefused);
      expect(final.text).toContain("a red kite");
    }
    expect(await h.replyState(request)).toBe("failed");
    expect(await h.turns(request.conversationKey)).toEqual([]);
    await until(() => events.length > 0, "the image event");
    expect(events.map((e) => [e.outcome, e.code])).toEqual([["failed", "PLATFORM_ERROR"]]);
  });

  it("a 429 on the result is waited out and the result lands", async () => {
    const sink = new RecordingSink(true);
    let limited = 0;
    sink.failImage = (image) => (image.final && limited++ === 0 ? new PlatformRateLimitedError(100) : undefined);
    const { request } = await imagine(sink);
    await settled(request);
    expect(limited).toBe(2);
    expect(sink.final).toMatchObject({ kind: "image", image: { final: true } });
    expect(await h.replyState(request)).toBe("done");
  });

  it("a reply the sink moved to another message is followed, and the move is remembered for a retry", async () => {
    const sink = new RecordingSink(true);
    sink.moveTo = { platform: "discord", channelId: "moved", messageId: "m-moved" };
    const { request } = await imagine(sink);
    await settled(request);
    // Up to the first image (which the sink moved), the placeholder; from then on, where it moved.
    const targets = sink.calls.map((c) => c.target.messageId);
    const firstImage = sink.calls.findIndex((c) => c.kind === "image");
    expect(firstImage).toBeGreaterThanOrEqual(0);
    expect(targets.slice(0, firstImage + 1).every((t) => t === request.reply.messageId)).toBe(true);
    expect(targets.slice(firstImage + 1).every((t) => t === "m-moved")).toBe(true);
    expect(targets.length).toBeGreaterThan(firstImage + 1);
    const saved = await h.redis.hget(h.keys.reply(request.requestId), "messages");
    expect(JSON.parse(saved!)).toEqual([{ platform: "discord", channelId: "moved", messageId: "m-moved" }]);
  });
});

describe("a platform sink without showImage", () => {
  it("gets text-only progress and ends with the caption and a note; nothing is remembered", async () => {
    const sink = new RecordingSink(false);
    const { request } = await imagine(sink, "a blue kite");
    await settled(request);
    const edits = sink.calls.filter((c) => c.kind === "edit");
    expect(edits.length).toBe(sink.calls.length);
    expect(edits.some((c) => !c.opts.final && /^Generating the image…/.test(c.text))).toBe(true);
    const final = sink.final!;
    expect(final).toMatchObject({
      kind: "edit",
      text: "a blue kite\n64×64 · 8 steps · seed 3",
      opts: { final: true, note: IMAGINE_TEXT.noImagesHere },
    });
    expect(sim.requestsTo("progress").every((r) => r.url.includes("skip_current_image=true"))).toBe(true);
    expect(await h.turns(request.conversationKey)).toEqual([]);
  });
});
