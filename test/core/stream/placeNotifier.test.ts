/**
 * PlaceNotifier against a fake sink on fake timers: updates are coalesced (only the newest place
 * of a reply is sent), nearest first, one at a time; a "not now" (PlatformRateLimitedError) is
 * waited out and asked again — never dropped — and the fence (`stillWaiting`) keeps a started
 * reply's placeholder from being overwritten.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PlatformError, PlatformRateLimitedError } from "../../../src/errors.ts";
import { createLogger } from "../../../src/logger.ts";
import { PlaceNotifier } from "../../../src/stream/PlaceNotifier.ts";
import type { ChatRequest, ReplySink, ReplyTarget } from "../../../src/types.ts";

const T0 = 2_000_000;
const logger = createLogger({ level: "silent" });

function req(id: string): ChatRequest {
  return {
    requestId: id,
    conversationKey: "discord:g:c",
    author: { id: "u", name: "u" },
    text: "q",
    receivedAt: 0,
    reply: { platform: "discord", channelId: "c", messageId: `m-${id}` },
  };
}

class PlaceSink implements Pick<ReplySink, "queued"> {
  readonly shown: Array<[number, string, number]> = [];
  readonly script: Array<Error | undefined> = [];
  async queued(target: ReplyTarget, ahead: number): Promise<void> {
    const step = this.script.shift();
    if (step) throw step;
    this.shown.push([Date.now() - T0, target.messageId, ahead]);
  }
}

function notifierFor(sink: PlaceSink, stillWaiting: (r: ChatRequest) => Promise<boolean> = async () => true) {
  return new PlaceNotifier({ discord: sink as unknown as ReplySink }, { logger, stillWaiting });
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
});

describe("PlaceNotifier", () => {
  it("sends nearest first and only the newest place of each reply; place 0 is left to the worker that starts it", async () => {
    const sink = new PlaceSink();
    const n = notifierFor(sink);
    n.offer([
      { place: 0, request: req("a") },
      { place: 3, request: req("c") },
      { place: 2, request: req("b") },
    ]);
    n.offer([{ place: 1, request: req("c") }]); // c moved up while b was being sent: 3 is never shown
    await n.idle();
    expect(sink.shown.map(([, m, p]) => [m, p])).toEqual([
      ["m-b", 2],
      ["m-c", 1],
    ]);
  });

  it("a rate-limited update is asked again after the wait, with the newest place, not dropped", async () => {
    const sink = new PlaceSink();
    sink.script.push(new PlatformRateLimitedError(1500));
    const n = notifierFor(sink);
    n.offer([{ place: 4, request: req("x") }]);
    await vi.advanceTimersByTimeAsync(500);
    expect(sink.shown).toEqual([]);
    n.offer([{ place: 3, request: req("x") }]);
    await vi.advanceTimersByTimeAsync(1100);
    await n.idle();
    expect(sink.shown).toEqual([[1500, "m-x", 3]]);
    expect(n.sent).toBe(1);
  });

  it("the fence: a reply that no longer waits at that place is not touched; other failures drop only that update", async () => {
    const sink = new PlaceSink();
    sink.script.push(new PlatformError("boom"));
    const n = notifierFor(sink, async (r: ChatRequest) => r.requestId !== "started");
    n.offer([
      { place: 1, request: req("fails") },
      { place: 2, request: req("started") },
      { place: 3, request: req("fine") },
    ]);
    await n.idle();
    expect(sink.shown.map(([, m, p]) => [m, p])).toEqual([["m-fine", 3]]);
  });
});
