/**
 * ReplyStreamer and issue 12, on fake timers: whitespace-only snapshots are never shown, the
 * "Thinking…" status before the first text, and a sink that finds the reply's message gone
 * (ReplyGoneError) stopping the streamer for good.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ReplyGoneError } from "../../../src/errors.ts";
import type { ReplyTarget } from "../../../src/types.ts";
import { at, FakeSink, streamerFor, T0 } from "./streamerKit.ts";

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0);
});

afterEach(() => {
  vi.useRealTimers();
});

describe("issue 12: whitespace, started, gone", () => {
  it("a whitespace-only snapshot is never shown: the first edit waits for real text (and carries it whole)", async () => {
    const sink = new FakeSink();
    const s = streamerFor(sink);
    s.update(" ");
    s.update(" \n");
    await at(500);
    expect(sink.calls).toEqual([]);
    s.update(" \nHello");
    await at(501);
    expect(sink.landed()).toEqual([[500, "m0", " \nHello"]]);
  });

  it("started shows the sink's 'Thinking…' first, throttled like an edit; text that comes first makes it unnecessary", async () => {
    const shown: Array<[number, string]> = [];
    const sink = Object.assign(new FakeSink(), {
      started: async (t: ReplyTarget) => {
        shown.push([Date.now() - T0, t.messageId]);
      },
    });
    const s = streamerFor(sink);
    s.started();
    await at(10);
    expect(shown).toEqual([[0, "m0"]]);
    s.update("text");
    await at(999);
    expect(sink.landed()).toEqual([]);
    await at(1000);
    expect(sink.landed()).toEqual([[1000, "m0", "text"]]);

    const sink2 = Object.assign(new FakeSink(), { started: vi.fn(async () => undefined) });
    const s2 = streamerFor(sink2);
    s2.update("already text");
    s2.started();
    await at(3000);
    expect(sink2.started).not.toHaveBeenCalled();
    expect(sink2.landed().map((c) => c[2])).toEqual(["already text"]);
  });

  it("a sink that finds the message gone stops the streamer for good: onGone once, no further edit or post, finish throws", async () => {
    const sink = new FakeSink(1000);
    const onGone = vi.fn();
    const s = streamerFor(sink, { onGone });
    s.update("first");
    await at(1);
    sink.failAlways = new ReplyGoneError();
    s.update("second");
    await at(1000);
    expect(onGone).toHaveBeenCalledTimes(1);
    expect(s.replyGone).toBe(true);
    const calls = sink.calls.length;
    s.update(`${"long ".repeat(500)}`);
    await at(5000);
    await expect(s.finish("final text", "stopped")).rejects.toBeInstanceOf(ReplyGoneError);
    expect(sink.calls.length).toBe(calls);
    expect(sink.calls.some((c) => c.kind === "post")).toBe(false);
  });

  it("the final delivery that finds the message gone throws ReplyGoneError at once (no retries, nothing posted after)", async () => {
    const sink = new FakeSink(1000);
    const s = streamerFor(sink);
    sink.script.push(new ReplyGoneError());
    const done = s.finish(`${"word ".repeat(400)}`);
    const caught = done.catch((e: unknown) => e);
    await at(10);
    expect(await caught).toBeInstanceOf(ReplyGoneError);
    expect(sink.calls.map((c) => c.kind)).toEqual(["edit"]);
  });
});
