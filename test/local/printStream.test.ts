/**
 * The terminal printer, fed snapshots directly: model output is sanitized, notes show when they
 * arrive, and an answer that starts over after a worker restart is marked, not garbled.
 */
import { describe, expect, it } from "vitest";
import { RESTART_MARK, StreamPrinter } from "../../adapters/local/printStream.ts";
import { sanitizeForTerminal } from "../../adapters/local/sanitizeForTerminal.ts";
import type { ReplyUpdate } from "../../src/stream/RedisStreamSink.ts";

let n = 0;
const u = (text: string, final = false, note?: string): ReplyUpdate => ({ id: `${++n}-0`, text, final, ...(note ? { note } : {}) });

function printer(opts: ConstructorParameters<typeof StreamPrinter>[1] = {}) {
  let out = "";
  const p = new StreamPrinter((s) => (out += s), opts);
  return { p, out: () => out };
}

describe("sanitizeForTerminal", () => {
  it("removes escape sequences and control characters, keeping newlines and tabs", () => {
    const evil =
      "a\x1b[2Jb\x1b[1;31mc\x1b[0m\x1b]0;pwned title\x07d\x1b]8;;http://x\x1b\\e\x1bcf\x9b2Jg\rh\x07i\x00j\x7fk\tl\nm\x1b[?1049hn\x1bPq#0;2;0;0;0\x1b\\o";
    const clean = sanitizeForTerminal(evil);
    expect(clean).toBe("abcdef2Jghijk\tl\nmno");
    expect(clean).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
  });

  it("keeps ordinary text, Chinese and emoji as they are", () => {
    const text = "你好，世界 👩\u200d💻\nline two\twith a tab";
    expect(sanitizeForTerminal(text)).toBe(text);
  });

  it("a sequence cut between two snapshots leaves the clean text growing by appending", () => {
    const full = "Hi \x1b[2J there \x1b]0;title\x07friend \x1bc!";
    let previous = "";
    for (let i = 0; i <= full.length; i++) {
      const clean = sanitizeForTerminal(full.slice(0, i));
      expect(clean.startsWith(previous), `at ${i}: ${JSON.stringify(clean)} after ${JSON.stringify(previous)}`).toBe(true);
      previous = clean;
    }
    expect(previous).toBe("Hi  there friend !");
  });
});

describe("StreamPrinter", () => {
  it("appends what each snapshot adds and ends the answer with its note", () => {
    const { p, out } = printer();
    p.push(u("Hel"));
    p.push(u("Hello, wor"));
    p.push(u("Hello, world", true, "reached the 12-token limit"));
    expect(out()).toBe("Hello, world\n(reached the 12-token limit)\n");
  });

  it("prints model output containing ESC[2J and friends without any escape sequence", () => {
    const { p, out } = printer();
    p.push(u("Clearing \x1b[2J"));
    p.push(u("Clearing \x1b[2J\x1b[H the screen\x1b]0;new title\x07 now", true));
    expect(out()).toBe("Clearing  the screen now\n");
    expect(out()).not.toContain("\x1b");
  });

  it("shows a note on a non-final update when it arrives, once, and continues the same attempt after it", () => {
    const { p, out } = printer();
    p.push(u("Once upon"));
    p.push(u("Once upon a time", false, "interrupted by a worker restart — resuming shortly…"));
    expect(out()).toBe("Once upon a time\n(interrupted by a worker restart — resuming shortly…)\n");
    p.push(u("Once upon a time", false, "interrupted by a worker restart — resuming shortly…"));
    p.push(u("Once upon a time there was", true));
    expect(out()).toBe("Once upon a time\n(interrupted by a worker restart — resuming shortly…)\n… there was\n");
  });

  it("marks an answer that starts over (a worker restart) and prints the new attempt in full", () => {
    const { p, out } = printer();
    p.push(u("The dragon slept"));
    p.push(u("The dragon slept in a cave", false, "interrupted by a worker restart — resuming shortly…"));
    p.push(u("A knight"));
    p.push(u("A knight rode out", true));
    expect(out()).toBe(
      `The dragon slept in a cave\n(interrupted by a worker restart — resuming shortly…)\n(${RESTART_MARK})\nA knight rode out\n`,
    );
    expect(p.attempts).toBe(2);
  });

  it("a killed worker (no note) and a retry that happens to begin the same way: still marked as a new attempt", () => {
    const { p, out } = printer();
    p.push(u("Same words here"));
    p.push(u("Same"));
    p.push(u("Same words here and more", true));
    expect(out()).toBe(`Same words here\n(${RESTART_MARK})\nSame words here and more\n`);
  });

  it("says when nothing arrives for a while, once per silence, and continues after it", () => {
    let now = 0;
    const { p, out } = printer({ now: () => now });
    p.push(u("Thinking"));
    now = 12_000;
    expect(p.idleMs).toBe(12_000);
    p.stalled("no new text for 10 s");
    p.stalled("no new text for 10 s");
    p.push(u("Thinking hard", true));
    expect(out()).toBe("Thinking\n(no new text for 10 s)\n… hard\n");
  });

  it("dims notes on a terminal", () => {
    const { p, out } = printer({ style: true });
    p.push(u("x", false, "a note"));
    expect(out()).toBe("x\n\x1b[2m(a note)\x1b[22m\n");
  });

  it("a refusal: no text, only the note", () => {
    const { p, out } = printer();
    p.push(u("", true, "Your message is 5000 tokens long"));
    expect(out()).toBe("(Your message is 5000 tokens long)\n");
  });
});
