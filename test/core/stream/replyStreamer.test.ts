/**
 * ReplyStreamer alone, against a fake sink on fake timers: when edits go out (the interval, the
 * sink's own minimum, one in flight, 429 waits), what they carry (always the latest text, the note
 * on the last message), how the final delivery insists and when it gives up, overflow into
 * follow-up messages, and a lost lock. Every time below is exact: nothing waits for real.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LockLostError, PlatformError, PlatformRateLimitedError } from "../../../src/errors.ts";
import { splitMessage } from "../../../src/text/splitMessage.ts";

import { at, FakeSink, streamerFor, T0, target } from "./streamerKit.ts";

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0);
});

afterEach(() => {
  vi.useRealTimers();
});

describe("streaming edits", () => {
  it("sends the first text at once, then the latest text no sooner than the interval after the previous edit", async () => {
    const sink = new FakeSink();
    const s = streamerFor(sink);
    s.update("a");
    await at(100);
    s.update("ab");
    await at(200);
    s.update("abc");
    await at(999);
    expect(sink.landed()).toEqual([[0, "m0", "a"]]);
    await at(1000);
    expect(sink.landed()).toEqual([
      [0, "m0", "a"],
      [1000, "m0", "abc"],
    ]);
    await at(1500);
    s.update("abcd");
    s.update("abcd"); // the same text again is not a new version
    await at(5000);
    expect(sink.landed()).toEqual([
      [0, "m0", "a"],
      [1000, "m0", "abc"],
      [2000, "m0", "abcd"],
    ]);
    expect(sink.calls.every((c) => c.opts?.final === false && c.opts.note === undefined)).toBe(true);
    expect(s.edits).toBe(3);
  });

  it("keeps the sink's own minimum interval when it is longer than the configured one", async () => {
    const sink = new FakeSink(Number.POSITIVE_INFINITY, 2500);
    const s = streamerFor(sink);
    s.update("a");
    await at(100);
    s.update("ab");
    await at(2499);
    expect(sink.landed()).toHaveLength(1);
    await at(2500);
    expect(sink.landed()).toEqual([
      [0, "m0", "a"],
      [2500, "m0", "ab"],
    ]);
  });

  it("has at most one edit in flight; a slow edit is followed at once by the latest text", async () => {
    const sink = new FakeSink();
    sink.script.push(3000);
    const s = streamerFor(sink);
    s.update("a");
    await at(500);
    s.update("ab");
    await at(1500);
    s.update("abc");
    await at(2999);
    expect(sink.calls.map((c) => c.text)).toEqual(["a"]);
    await at(3000);
    expect(sink.landed()).toEqual([
      [0, "m0", "a"],
      [3000, "m0", "abc"],
    ]);
    expect(sink.maxInFlight).toBe(1);
  });

  it("waits out a 429's retryAfterMs (not just the interval), then sends the latest text", async () => {
    const sink = new FakeSink();
    sink.script.push(new PlatformRateLimitedError(3000));
    const s = streamerFor(sink);
    s.update("a");
    await at(1500);
    s.update("ab");
    await at(2999);
    expect(sink.calls.map((c) => [c.at, c.ok])).toEqual([[0, false]]);
    await at(3000);
    expect(sink.landed()).toEqual([[3000, "m0", "ab"]]);
    expect(s.rateLimited).toBe(1);
  });

  it("skips a failed streamed edit (not a 429) and goes on with newer text at the next turn", async () => {
    const sink = new FakeSink();
    sink.script.push(new PlatformError("boom", 500));
    const s = streamerFor(sink);
    s.update("a");
    await at(5000);
    expect(sink.calls).toHaveLength(1); // "a" is not retried
    s.update("ab");
    await at(5001);
    expect(sink.landed()).toEqual([[5000, "m0", "ab"]]);
  });
});

describe("the final delivery", () => {
  it("waits for its turn after the last edit, carries the note, and lands through 429s and transient errors", async () => {
    const sink = new FakeSink();
    const s = streamerFor(sink);
    s.update("partial");
    await at(200);
    sink.script.push(new PlatformRateLimitedError(2000), new PlatformError("bad gateway", 502), new Error("socket hang up"));
    let done = false;
    const finished = s.finish("the whole answer", "stopped").then(() => {
      done = true;
    });
    await at(20_000);
    await finished;
    expect(done).toBe(true);
    // 1000: the interval after the streamed edit; 3000: the 429's wait; 4000: the interval and the
    // backoff after the 502 (250 × 2²); 6000: the backoff after the third failure (250 × 2³).
    expect(sink.calls.map((c) => [c.at, c.ok])).toEqual([
      [0, true],
      [1000, false],
      [3000, false],
      [4000, false],
      [6000, true],
    ]);
    expect(sink.calls.at(-1)).toMatchObject({ text: "the whole answer", opts: { final: true, last: true, note: "stopped" } });
    expect(s.rateLimited).toBe(1);
  });

  it("gives up after finalDeadlineMs with the last error", async () => {
    const sink = new FakeSink();
    const failure = new PlatformError("still down", 503);
    sink.failAlways = failure;
    const s = streamerFor(sink, { finalDeadlineMs: 5000 });
    const outcome = s.finish("answer").then(
      () => "landed",
      (err: unknown) => err,
    );
    await at(60_000);
    expect(await outcome).toBe(failure);
    // Each retry waits for the interval or the backoff (250 × 2^attempt), whichever ends later;
    // the fifth would come at 8000, after the deadline.
    expect(sink.calls.map((c) => c.at)).toEqual([0, 1000, 2000, 4000]);
  });

  it("after a lost lock throws LockLostError and sends nothing", async () => {
    const sink = new FakeSink();
    const s = streamerFor(sink, { guard: async () => Promise.reject(new LockLostError()) });
    s.update("a");
    await at(10);
    expect(s.ownershipLost).toBe(true);
    await expect(s.finish("answer")).rejects.toBeInstanceOf(LockLostError);
    expect(sink.calls).toEqual([]);
  });
});

describe("long replies", () => {
  const paragraph = (n: number) => `Paragraph ${n}: ${"word ".repeat(12).trim()}.`;
  const text = Array.from({ length: 5 }, (_, i) => paragraph(i)).join("\n\n");
  /** 200 characters per message: maxLength less the room kept for a note. */
  const sink400 = () => new FakeSink(400);

  it("continues in follow-up messages split by splitMessage; the note goes under the last one only", async () => {
    const chunks = splitMessage(text, 200);
    expect(chunks).toHaveLength(3);
    const sink = sink400();
    const seen: string[][] = [];
    const s = streamerFor(sink, { onMessages: async (all) => void seen.push(all.map((t) => t.messageId)) });
    s.update(text);
    await at(0);
    expect(sink.calls.map((c) => [c.kind, c.messageId, c.text, c.opts])).toEqual([
      ["edit", "m0", chunks[0], { final: false, last: false }],
      ["post", "m0", chunks[1], { final: false, last: false, part: 1 }],
      ["post", "f1", chunks[2], { final: false, last: true, part: 2 }],
    ]);
    expect(seen).toEqual([
      ["m0", "f1"],
      ["m0", "f1", "f2"],
    ]);
    expect(s.targets.map((t) => t.messageId)).toEqual(["m0", "f1", "f2"]);

    // More text: only the message whose text changed is edited.
    const longer = `${text} And more.`;
    s.update(longer);
    await at(1000);
    expect(sink.calls.slice(3).map((c) => [c.kind, c.messageId, c.text])).toEqual([["edit", "f2", splitMessage(longer, 200)[2]]]);

    const finished = s.finish(longer, "reached the token limit");
    await at(2000);
    await finished;
    const finals = sink.calls.slice(4);
    expect(finals.map((c) => [c.kind, c.messageId, c.opts])).toEqual([
      ["edit", "m0", { final: true, last: false }],
      ["edit", "f1", { final: true, last: false }],
      ["edit", "f2", { final: true, last: true, note: "reached the token limit" }],
    ]);
    expect(finals.map((c) => c.text)).toEqual(splitMessage(longer, 200));
    for (const c of sink.calls) expect(c.text.length).toBeLessThanOrEqual(200);
  });

  it("empties follow-ups left from an earlier attempt that the final text no longer needs", async () => {
    const sink = sink400();
    const s = streamerFor(sink, {}, [target("m0"), target("old1"), target("old2")]);
    s.update("short");
    await at(0);
    expect(sink.calls.map((c) => c.messageId)).toEqual(["m0"]); // streamed edits leave them alone
    const finished = s.finish("a short answer");
    await at(1000);
    await finished;
    expect(sink.calls.slice(1).map((c) => [c.messageId, c.text, c.opts])).toEqual([
      ["m0", "a short answer", { final: true, last: true }],
      ["old1", "…", { final: true }],
      ["old2", "…", { final: true }],
    ]);
  });
});

describe("what the sink is told", () => {
  it("one attempt id per streamer on every delivery, and the fence the splitter added to close an unfinished code block", async () => {
    const sink = new FakeSink(400);
    const s = streamerFor(sink);
    s.update("Look:\n```ts\nconst a = 1;");
    await at(0);
    expect(sink.calls[0]!.text).toBe("Look:\n```ts\nconst a = 1;\n```");
    expect(sink.calls[0]!.opts).toEqual({ final: false, last: true, closing: "\n```" });
    const finished = s.finish("Look:\n```ts\nconst a = 1;\n```\ndone");
    await at(1000);
    await finished;
    expect(sink.calls[1]!.opts).toEqual({ final: true, last: true });
    expect(sink.attempts.size).toBe(1);
    const [attempt] = [...sink.attempts];
    expect(attempt).toMatch(/^[0-9a-f-]{36}$/);
    // Another streamer for the same reply (a retry) is another attempt.
    const again = streamerFor(sink);
    again.update("x");
    await at(2000);
    expect(sink.attempts.size).toBe(2);
  });
});

describe("a lost lock", () => {
  it("stops editing at once and calls onLockLost once when the guard throws LockLostError", async () => {
    const sink = new FakeSink();
    let checks = 0;
    const onLockLost = vi.fn();
    const s = streamerFor(sink, {
      guard: async () => {
        if (++checks >= 2) throw new LockLostError();
      },
      onLockLost,
    });
    s.update("a");
    await at(100);
    s.update("ab");
    await at(1000);
    expect(onLockLost).toHaveBeenCalledTimes(1);
    expect(s.ownershipLost).toBe(true);
    s.update("abc");
    await at(10_000);
    expect(sink.landed()).toEqual([[0, "m0", "a"]]);
    expect(checks).toBe(2);
    await expect(s.finish("abc")).rejects.toBeInstanceOf(LockLostError);
    expect(sink.calls).toHaveLength(1);
  });
});

describe("settle", () => {
  it("waits for the edit in flight to land, then sends nothing more", async () => {
    const sink = new FakeSink();
    sink.script.push(500); // the first edit takes 500 ms to land
    const s = streamerFor(sink);
    s.update("a");
    await at(100);
    let settled = false;
    const settling = s.settle().then(() => (settled = true));
    await at(400);
    expect(settled).toBe(false);
    await at(500);
    await settling;
    expect(sink.landed()).toEqual([[0, "m0", "a"]]);
    s.update("ab");
    await at(5000);
    expect(sink.calls).toHaveLength(1);
  });
});

describe("interim", () => {
  it("shows the text with a note, not as final, in its turn; later updates are ignored", async () => {
    const sink = new FakeSink();
    const s = streamerFor(sink);
    s.update("part");
    await at(100);
    const shown = s.interim("partial answer", "interrupted; another worker continues");
    s.update("partial answer and more");
    await at(1000);
    await shown;
    expect(sink.calls.map((c) => [c.at, c.text, c.opts])).toEqual([
      [0, "part", { final: false, last: true }],
      [1000, "partial answer", { final: false, last: true, note: "interrupted; another worker continues" }],
    ]);
    await at(5000);
    expect(sink.calls).toHaveLength(2);
  });

  it("is best effort: a failure is not thrown", async () => {
    const sink = new FakeSink();
    sink.failAlways = new PlatformError("down", 503);
    const s = streamerFor(sink);
    await expect(s.interim("partial", "interrupted")).resolves.toBeUndefined();
    expect(sink.calls).toHaveLength(1);
  });
});
