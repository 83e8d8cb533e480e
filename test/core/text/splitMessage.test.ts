/** splitMessage, splitMessageParts and splitStable: concrete cases, then properties on seeded random texts. */
import { describe, expect, it } from "vitest";
import { formatForSlack, formatForSlackStreaming } from "../../../src/text/escapeMentions.ts";
import { DISCORD_MAX_LENGTH, MIN_SPLIT_LENGTH, SLACK_MAX_LENGTH, splitMessage, splitStable } from "../../../src/text/splitMessage.ts";
import { int, pick, prng, randomText, split, word } from "./textTestKit.ts";

describe("splitMessage: concrete cases", () => {
  it("leaves short text alone and gives no chunk for empty text", () => {
    expect(splitMessage("hello", 2000)).toEqual(["hello"]);
    expect(splitMessage("x".repeat(2000), 2000)).toEqual(["x".repeat(2000)]);
    expect(splitMessage("", 2000)).toEqual([]);
  });

  it("refuses a maxLength too small to hold a reopened fence", () => {
    expect(() => splitMessage("hi", MIN_SPLIT_LENGTH - 1)).toThrow(RangeError);
    expect(() => splitMessage("hi", 100.5)).toThrow(RangeError);
  });

  it("prefers a paragraph boundary, then a line, then a sentence, then a space", () => {
    const a = "A".repeat(50);
    // Paragraph (at 52) beats a later line break (at 73).
    expect(split(`${a}\n\n${"B".repeat(20)}\n${"C".repeat(40)}`, 100).map((p) => p.text)).toEqual([
      `${a}\n\n`,
      `${"B".repeat(20)}\n${"C".repeat(40)}`,
    ]);
    // Line beats a later sentence end.
    expect(split(`${a}\n${"B".repeat(20)}. ${"C".repeat(40)}`, 100)[0]!.text).toBe(`${a}\n`);
    // Sentence beats a later space.
    expect(split(`${a}. ${"B".repeat(20)} ${"C".repeat(40)}`, 100)[0]!.text).toBe(`${a}. `);
    // Space beats a hard cut.
    expect(split(`${a} ${"B".repeat(80)}`, 100)[0]!.text).toBe(`${a} `);
  });

  it("keeps trailing whitespace with the last content instead of sending it alone", () => {
    expect(splitMessage(`${"A".repeat(1799)}\n\n`, 1800)).toEqual(["A".repeat(1798), "A\n\n"]);
    const text = `${"Some text here. ".repeat(100)}\n\n${"More text. ".repeat(20)}\n\n\n`;
    const chunks = split(text, 1800).map((p) => p.text);
    expect(chunks[chunks.length - 1]!.trim()).not.toBe("");
  });

  it("does not take a preferred boundary that leaves the chunk less than half full", () => {
    const text = `${"A".repeat(10)}\n\n${"B".repeat(70)} ${"C".repeat(40)}`;
    const parts = split(text, 100);
    expect(parts[0]!.text).toBe(`${"A".repeat(10)}\n\n${"B".repeat(70)} `);
  });

  it("hard-cuts a single line longer than the limit", () => {
    const text = "x".repeat(5000);
    const chunks = split(text, 2000).map((p) => p.text);
    expect(chunks).toEqual(["x".repeat(2000), "x".repeat(2000), "x".repeat(1000)]);
  });

  it("keeps a long URL whole when a space before it allows", () => {
    const url = `https://example.com/${"a".repeat(120)}`;
    const text = `see ${"word ".repeat(10)}${url} done`;
    const chunks = split(text, 150).map((p) => p.text);
    expect(chunks.some((c) => c.includes(url))).toBe(true);
  });

  it("never splits a surrogate pair, a ZWJ sequence or a flag", () => {
    const seg = new Intl.Segmenter("und", { granularity: "grapheme" });
    const boundaries = (s: string) => new Set([...seg.segment(s)].map((x) => x.index).concat(s.length));
    for (const unit of ["😀", "👨‍👩‍👧", "🇺🇸", "👍🏽", "e\u0301", "𠮷"]) {
      for (const max of [33, 2000]) {
        const text = unit.repeat(Math.ceil(4100 / unit.length));
        const parts = split(text, max);
        expect(parts.length).toBeGreaterThan(1);
        const ok = boundaries(text);
        for (const p of parts) expect(ok.has(p.end), `${unit} at ${p.end} (max ${max})`).toBe(true);
      }
    }
  });

  it("splits Chinese text after 。 or ， and hard-cuts it when it has no punctuation", () => {
    const sentence = "我们今天讨论的是如何把很长的回答分成几条消息发送出去" + "。";
    const text = sentence.repeat(200);
    const parts = split(text, 2000);
    for (const p of parts.slice(0, -1)) expect(p.text.endsWith("。")).toBe(true);
    const bare = "中".repeat(4500);
    expect(split(bare, 2000).map((p) => p.text.length)).toEqual([2000, 2000, 500]);
  });

  it("closes and reopens a code block longer than the limit, with its info string", () => {
    const lines = Array.from({ length: 120 }, (_, i) => `    print("line ${i}")`);
    const text = `Here is the code:\n\n\`\`\`python\n${lines.join("\n")}\n\`\`\`\n\nThat's all.`;
    const parts = split(text, 400);
    expect(parts.length).toBeGreaterThan(5);
    for (const [i, p] of parts.entries()) {
      if (i > 0 && i < parts.length - 1) {
        expect(p.text.startsWith("```python\n")).toBe(true);
        expect(p.text.endsWith("\n```")).toBe(true);
      }
      // Never an empty code block: something after every reopen, and no close right after an open.
      expect(p.text).not.toMatch(/```python\n```/);
      // Whole lines: the cuts in the block fall on line boundaries.
      if (p.close) expect(p.close).toBe("```");
    }
    expect(parts[0]!.text.startsWith("Here is the code:")).toBe(true);
    expect(parts[parts.length - 1]!.text.endsWith("That's all.")).toBe(true);
  });

  it("reopens ~~~ and ```` fences with their own marker", () => {
    const body = Array.from({ length: 40 }, (_, i) => `row ${i}`).join("\n");
    const tilde = split(`~~~sh\n${body}\n~~~`, 100);
    expect(tilde[1]!.reopen).toBe("~~~sh\n");
    expect(tilde[0]!.close).toBe("~~~");
    const four = split(`\`\`\`\`md\n\`\`\`\n${body}\n\`\`\`\n\`\`\`\``, 100);
    expect(four[1]!.reopen).toBe("````md\n");
    expect(four[0]!.close).toBe("````");
  });

  it("hard-cuts inside a code line and continues the line after the reopened fence", () => {
    const text = `\`\`\`\n${"q".repeat(300)}\n\`\`\``;
    const parts = split(text, 100);
    expect(parts[0]!.text).toBe(`\`\`\`\n${"q".repeat(92)}\n\`\`\``);
    expect(parts[0]!.close).toBe("\n```");
    expect(parts[1]!.text.startsWith("```\nqqq")).toBe(true);
  });

  it("closes an unterminated fence (a reply still streaming inside a code block)", () => {
    expect(splitMessage("Look:\n```js\nlet a = 1;\n", 2000)).toEqual(["Look:\n```js\nlet a = 1;\n```"]);
    expect(splitMessage("Look:\n```js\nlet a = 1;", 2000)).toEqual(["Look:\n```js\nlet a = 1;\n```"]);
    expect(splitMessage("Look:\n```js", 2000)).toEqual(["Look:\n```js\n```"]);
    // A fence line that is not complete yet is not a fence.
    expect(splitMessage("Look:\n``", 2000)).toEqual(["Look:\n``"]);
  });

  it("moves a code block to the next message rather than cutting it when it fits there", () => {
    const intro = "Intro sentence here. ".repeat(4);
    const code = `\`\`\`ts\n${"const value = compute();\n".repeat(3)}\`\`\``;
    const text = `${intro}\n\n${code}\n\nAfter.`;
    const parts = split(text, 120);
    expect(parts.map((p) => p.reopen + p.close).join("")).toBe("");
    expect(parts.some((p) => p.text.includes(code))).toBe(true);
  });

  it("does not turn half a line into a fence", () => {
    // The whole line is no fence (backtick in the info string, and too long), but the part
    // before its only space would open one.
    const noFence = (text: string, max: number) => {
      const parts = split(text, max);
      expect(parts.length).toBeGreaterThan(1);
      for (const p of parts) expect(p.reopen + p.close, JSON.stringify(p.text)).toBe("");
    };
    noFence(`\`\`\`ts \`${"w".repeat(300)}`, 100);
    // Inside a block: "``` " would close it; the chunk must not end there.
    const inBlock = split(`\`\`\`\n\`\`\` ${"x".repeat(300)}\n\`\`\``, 100);
    for (const p of inBlock.slice(0, -1)) expect(p.close).not.toBe("");
    // The rest of a line cut after a space must not start a fence in the next chunk.
    // (the line's newline lies beyond the limit, so the space is the best cut there is)
    noFence(`${"a".repeat(90)} \`\`\`jsbbbbb\n${"c".repeat(50)}`, 100);
  });

  it("splits a 5000+ character reply with code blocks for Discord and Slack", () => {
    const rng = prng(5000);
    let text = "";
    while (text.length < 5200) {
      text += `## Step ${text.length}\n\n${"Some explanation of the step, with details. ".repeat(int(rng, 2, 8))}\n\n`;
      text += `\`\`\`ts\n${Array.from({ length: int(rng, 5, 60) }, (_, i) => `  const v${i} = f(${i}); // ${word(rng)}`).join("\n")}\n\`\`\`\n\n`;
    }
    expect(text.length).toBeGreaterThan(5000);
    const discord = split(text, DISCORD_MAX_LENGTH);
    expect(discord.length).toBeGreaterThanOrEqual(3);
    const slackText = formatForSlack(text);
    const slack = split(slackText, SLACK_MAX_LENGTH);
    expect(slack.length).toBeGreaterThanOrEqual(2);
  });
});

describe("splitMessage: properties on random texts", () => {
  it("chunks fit, fences balance, nothing is lost, no surrogate pair is split", () => {
    const rng = prng(1);
    for (let n = 0; n < 250; n++) {
      const max = pick(rng, [32, 40, 64, 100, 257, 500, 2000]);
      const text = randomText(rng, int(rng, 0, pick(rng, [200, 1500, 6000])));
      split(text, max);
    }
  });

  it("frozen chunks never change while the text grows (random growth)", () => {
    const rng = prng(2);
    for (let n = 0; n < 40; n++) {
      const max = pick(rng, [32, 50, 100, 300, 2000]);
      const full = randomText(rng, int(rng, 500, Math.min(7000, 40 * max)));
      const finalChunks = splitMessage(full, max);
      let previous: string[] = [];
      let length = 0;
      while (length < full.length) {
        length = Math.min(full.length, length + int(rng, 1, Math.max(2, Math.floor(max / 3))));
        const text = full.slice(0, length);
        const s = splitStable(text, max);
        // The previous frozen list is a prefix of this one, and of the final split.
        expect(s.frozen.slice(0, previous.length)).toEqual(previous);
        expect(finalChunks.slice(0, s.frozen.length)).toEqual(s.frozen);
        // The split of the text is frozen + split(tail).
        const now = splitMessage(text, max);
        expect(s.chunks).toEqual(now);
        expect([...s.frozen, ...splitMessage(s.tail, max)]).toEqual(now);
        expect(s.tail.endsWith(text.slice(s.tailStart))).toBe(true);
        previous = s.frozen;
      }
      // The guarantee is not empty: long texts do freeze their early chunks.
      if (full.length > 4 * max + 420) expect(previous.length).toBeGreaterThan(0);
    }
  });

  it("frozen chunks never change, growing one character at a time", () => {
    const rng = prng(3);
    for (let n = 0; n < 6; n++) {
      const max = 40;
      const full = randomText(rng, 700);
      let previous: string[] = [];
      for (let length = 0; length <= full.length; length++) {
        const text = full.slice(0, length);
        const s = splitStable(text, max);
        expect(s.frozen.slice(0, previous.length)).toEqual(previous);
        expect([...s.frozen, ...splitMessage(s.tail, max)]).toEqual(s.chunks);
        previous = s.frozen;
      }
      expect(previous.length).toBeGreaterThan(0);
    }
  });

  it("respects stableLength: only chunks inside the stable part are frozen", () => {
    const text = "word ".repeat(400);
    const all = splitStable(text, 100);
    expect(all.frozen.length).toBeGreaterThan(10);
    const none = splitStable(text, 100, { stableLength: 0 });
    expect(none.frozen).toEqual([]);
    expect(none.tail).toBe(text);
    const some = splitStable(text, 100, { stableLength: 700 });
    expect(some.frozen.length).toBeGreaterThan(0);
    expect(some.frozen.length).toBeLessThan(all.frozen.length);
    expect(some.chunks).toEqual(all.chunks);
  });

  it("Slack: frozen chunks of the formatted text of a streaming reply never change", () => {
    const rng = prng(4);
    for (let n = 0; n < 15; n++) {
      const max = pick(rng, [64, 200, 4000]);
      const full = `${randomText(rng, int(rng, 1000, 9000))} **bold** [a link](https://x.y/?a=1&b=2) <!here> @channel`;
      let previous: string[] = [];
      let previousStable = "";
      let length = 0;
      while (length < full.length) {
        length = Math.min(full.length, length + int(rng, 1, 120));
        const { text, stableLength } = formatForSlackStreaming(full.slice(0, length));
        expect(text).toBe(formatForSlack(full.slice(0, length)));
        // What was stable stays a prefix.
        expect(text.startsWith(previousStable)).toBe(true);
        previousStable = text.slice(0, stableLength);
        const s = splitStable(text, max, { stableLength });
        expect(s.frozen.slice(0, previous.length)).toEqual(previous);
        previous = s.frozen;
      }
      expect(splitMessage(formatForSlack(full), max).slice(0, previous.length)).toEqual(previous);
    }
  });
});
