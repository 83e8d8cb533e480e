/** composeWithNote: a note under a message never takes it past its limit. */
import { describe, expect, it } from "vitest";
import { composeWithNote } from "../../../src/text/composeWithNote.ts";

const compose = (text: string) => (note?: string) => (note ? `${text}\n(${note})` : text);

describe("composeWithNote", () => {
  it("shows the whole note when it fits, and the text alone without one", () => {
    expect(composeWithNote(compose("answer"), "stopped", 100)).toBe("answer\n(stopped)");
    expect(composeWithNote(compose("answer"), "stopped", 17)).toBe("answer\n(stopped)");
    expect(composeWithNote(compose("answer"), undefined, 100)).toBe("answer");
    expect(composeWithNote(compose("answer"), "", 100)).toBe("answer");
  });

  it("shortens the note to the room left, ending in …", () => {
    const out = composeWithNote(compose("answer"), "the model gave an empty answer", 20);
    expect(out).toBe("answer\n(the model…)"); // 19: the space before the cut goes too
    expect(composeWithNote(compose("answer"), "the model gave an empty answer", 21)).toBe("answer\n(the model g…)");
  });

  it("leaves the note out when not even one character of it fits", () => {
    expect(composeWithNote(compose("answer"), "stopped", 10)).toBe("answer");
    expect(composeWithNote(compose("x".repeat(50)), "stopped", 40)).toBe("x".repeat(50));
  });

  it("never leaves half a surrogate pair, and fits whatever the composition adds", () => {
    const note = "😀😀😀😀😀";
    for (let max = 9; max <= 20; max++) {
      const out = composeWithNote(compose("ab"), note, max);
      expect(out.length).toBeLessThanOrEqual(Math.max(max, 2));
      expect(out).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
    }
    // A composition that grows the note (escaping) still ends within the limit.
    const escaping = (note?: string) => (note ? `ab ${note.replace(/&/g, "&amp;")}` : "ab");
    const out = composeWithNote(escaping, "a&b&c&d&e&f", 14);
    expect(out.length).toBeLessThanOrEqual(14);
    expect(out).toBe("ab a&amp;b…");
  });
});
