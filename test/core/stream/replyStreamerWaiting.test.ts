/**
 * ReplyStreamer.waiting, on fake timers: while a remote engine waits out a 429/503 the placeholder
 * shows a note (through the same interval as edits), and the first text replaces it.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { at, FakeSink, streamerFor, T0 } from "./streamerKit.ts";

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0);
});

afterEach(() => {
  vi.useRealTimers();
});

describe("waiting notes", () => {
  it("shows the note on the empty placeholder, updates it at the interval, and drops it with the first text", async () => {
    const sink = new FakeSink();
    const s = streamerFor(sink);
    s.waiting("the model server is busy — retrying in 2 s");
    await at(10);
    s.waiting("the model server is busy — retrying in 4 s");
    s.waiting("the model server is busy — retrying in 4 s"); // the same note again is not a new edit
    await at(1000);
    s.update("Hello");
    await at(2000);
    const shown = sink.calls.filter((c) => c.ok).map((c) => [c.at, c.text, c.opts?.note, c.opts?.final]);
    expect(shown).toEqual([
      [0, "", "the model server is busy — retrying in 2 s", false],
      [1000, "", "the model server is busy — retrying in 4 s", false],
      [2000, "Hello", undefined, false],
    ]);
    s.waiting("late"); // text is shown: no note any more
    const finished = s.finish("Hello there");
    await at(3000);
    await finished;
    expect(sink.calls.filter((c) => c.ok).map((c) => [c.text, c.opts?.note])).toEqual([
      ["", "the model server is busy — retrying in 2 s"],
      ["", "the model server is busy — retrying in 4 s"],
      ["Hello", undefined],
      ["Hello there", undefined],
    ]);
  });
});
