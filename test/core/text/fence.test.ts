/** Fence lines: which lines open a code block, which close it, and how a continuation reopens it. */
import { describe, expect, it } from "vitest";
import { FENCE_LINE_MAX, fenceMarker, isClosingFence, openingFence, reopenLine } from "../../../src/text/fence.ts";

describe("openingFence", () => {
  it("reads the marker, its length, the indentation and the info string", () => {
    expect(openingFence("```ts")).toEqual({ char: "`", length: 3, indent: 0, info: "ts" });
    expect(openingFence("  ````md  ")).toEqual({ char: "`", length: 4, indent: 2, info: "md" });
    expect(openingFence("~~~ sh")).toEqual({ char: "~", length: 3, indent: 0, info: "sh" });
    expect(openingFence("\t```")).toEqual({ char: "`", length: 3, indent: 1, info: "" });
  });

  it("is not a fence: shorter runs, text before the run, inline code, overlong lines", () => {
    expect(openingFence("``")).toBeNull();
    expect(openingFence("x ```ts")).toBeNull();
    expect(openingFence("```js x```")).toBeNull(); // an inline code span
    expect(openingFence("~~~ a`b")).toEqual({ char: "~", length: 3, indent: 0, info: "a`b" }); // backticks are fine after tildes
    const long = `\`\`\`${"x".repeat(FENCE_LINE_MAX)}`;
    expect(openingFence(long)).toBeNull();
    expect(openingFence(long, long.length)).not.toBeNull();
  });
});

describe("isClosingFence", () => {
  const backticks = openingFence("````")!;

  it("closes with the same character, at least as long, and nothing but whitespace after it", () => {
    expect(isClosingFence("````", backticks)).toBe(true);
    expect(isClosingFence("  `````  ", backticks)).toBe(true);
    expect(isClosingFence("````\r", backticks)).toBe(true);
    expect(isClosingFence("```", backticks)).toBe(false);
    expect(isClosingFence("~~~~", backticks)).toBe(false);
    expect(isClosingFence("```` ts", backticks)).toBe(false);
  });

  it("never closes with a line longer than the limit", () => {
    const line = `${"`".repeat(4)}${" ".repeat(10)}`;
    expect(isClosingFence(line, backticks, 10)).toBe(false);
    expect(isClosingFence(line, backticks, 14)).toBe(true);
  });
});

describe("reopening a fence", () => {
  it("closes with the opening run and reopens with the run and the info string", () => {
    const fence = openingFence("  ~~~~python")!;
    expect(fenceMarker(fence)).toBe("~~~~");
    expect(reopenLine(fence)).toBe("~~~~python\n");
    expect(openingFence(reopenLine(fence).trimEnd())).toEqual({ ...fence, indent: 0 });
  });
});
