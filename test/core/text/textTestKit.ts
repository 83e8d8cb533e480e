/**
 * What the text tests share: a seeded generator of Markdown-ish text (words, CJK, emoji, code
 * blocks with every fence style, fence-like runs that are not fences) and `split`, which checks
 * every invariant of splitMessage on each split it makes.
 */
import { expect } from "vitest";
import { type Fence, isClosingFence, openingFence } from "../../../src/text/fence.ts";
import { type ChunkPart, joinParts, splitMessage, splitMessageParts } from "../../../src/text/splitMessage.ts";

export { mulberry32 as prng } from "../../../tools/random.ts";

type Rng = () => number;
export const int = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
export const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;

const LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const EMOJI = ["😀", "👍🏽", "👨‍👩‍👧", "🇺🇸", "🇫🇷", "e\u0301", "❤️", "𠮷"];
const FENCES = ["```", "```ts", "```python", "~~~", "````md", "  ```js", "```c++"];
const CJK = "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你";

export function word(rng: Rng): string {
  let w = "";
  for (let n = int(rng, 1, 10); n > 0; n--) w += pick(rng, [...LETTERS]);
  return w;
}

function codeBlock(rng: Rng): string {
  const open = pick(rng, FENCES);
  const marker = open.trim().replace(/[^`~]+$/, "");
  const lines: string[] = [];
  for (let n = int(rng, 0, 12); n > 0; n--) {
    const r = rng();
    if (r < 0.1) lines.push("");
    else if (r < 0.15) lines.push("x = '```'  # not a fence: text after it");
    else if (r < 0.2 && marker.length > 3)
      lines.push("```"); // shorter run: content of a ```` block
    else if (r < 0.25) lines.push(`  ${"y".repeat(int(rng, 40, 160))}`);
    else lines.push(`${" ".repeat(int(rng, 0, 4))}${word(rng)} = ${word(rng)}(${word(rng)}); // ${word(rng)}`);
  }
  const closed = rng() < 0.85;
  return `${open}\n${lines.join("\n")}${lines.length ? "\n" : ""}${closed ? marker : ""}`;
}

/** Random Markdown-ish text of about `target` characters. */
export function randomText(rng: Rng, target: number): string {
  let s = "";
  while (s.length < target) {
    const r = rng();
    if (r < 0.35) s += `${word(rng)} `;
    else if (r < 0.42) s += `${word(rng)}. `;
    else if (r < 0.5) s += "\n";
    else if (r < 0.55) s += "\n\n";
    else if (r < 0.6) for (let n = int(rng, 1, 60); n > 0; n--) s += rng() < 0.1 ? pick(rng, ["，", "。"]) : pick(rng, [...CJK]);
    else if (r < 0.66) for (let n = int(rng, 1, 20); n > 0; n--) s += pick(rng, EMOJI);
    else if (r < 0.72) s += `\n${codeBlock(rng)}\n`;
    else if (r < 0.75) s += "z".repeat(int(rng, 30, 400));
    else if (r < 0.77) s += `\n\`\`\`ts\`x\` not a fence ${word(rng)}\n`;
    else if (r < 0.8) s += "`inline code` ";
    else if (r < 0.82) s += `- ${word(rng)}\n`;
    else if (r < 0.84) s += " ".repeat(int(rng, 1, 50));
    else if (r < 0.86) s += `**${word(rng)}** `;
    else if (r < 0.87)
      s += "```"; // fence-like run in the middle of a line
    else s += `${word(rng)} `;
  }
  return s;
}

function fenceLineMax(max: number): number {
  return Math.min(200, Math.floor(max / 4));
}

/** Fence state after parsing `text` as a whole (null: outside any fence). */
function fenceStateAfter(text: string, F = 200): Fence | null {
  let fence: Fence | null = null;
  for (const line of text.split("\n")) {
    if (fence) {
      if (isClosingFence(line, fence, F)) fence = null;
    } else {
      fence = openingFence(line, F);
    }
  }
  return fence;
}

/** Fence state of `text` at each of `positions` (at a line start: before that line; mid-line: the line's). */
function fenceStatesAt(text: string, F: number, positions: number[]): Array<Fence | null | "inside-fence-line"> {
  const lines: Array<{ start: number; end: number; before: Fence | null; fenceLine: boolean }> = [];
  let fence: Fence | null = null;
  let start = 0;
  for (const line of text.split("\n")) {
    const before = fence;
    if (fence) {
      if (isClosingFence(line, fence, F)) fence = null;
    } else {
      fence = openingFence(line, F);
    }
    lines.push({ start, end: start + line.length, before, fenceLine: before !== fence });
    start += line.length + 1;
  }
  return positions.map((pos) => {
    const line = lines.findLast((l) => l.start <= pos)!;
    if (pos === line.start) return line.before;
    return line.fenceLine ? "inside-fence-line" : line.before;
  });
}

const isHigh = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff;
const hasLoneSurrogate = (s: string) => /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);

/** Every invariant a split must satisfy. */
function checkParts(text: string, max: number, parts: ChunkPart[]): void {
  const F = fenceLineMax(max);
  if (text.length === 0) {
    expect(parts).toEqual([]);
    return;
  }
  expect(parts[0]!.start).toBe(0);
  expect(parts[parts.length - 1]!.end).toBe(text.length);
  expect(parts[0]!.reopen).toBe("");
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const ctx = `chunk ${i} of ${parts.length}, max ${max}`;
    // Fits, and makes progress.
    expect(part.text.length, ctx).toBeLessThanOrEqual(max);
    expect(part.end, ctx).toBeGreaterThan(part.start);
    // Made of the original content plus added fence lines only.
    expect(part.text, ctx).toBe(part.reopen + text.slice(part.start, part.end) + part.close);
    if (i > 0) expect(part.start, ctx).toBe(parts[i - 1]!.end);
    // Added fence lines are fence lines, and a close is always followed by a matching reopen.
    expect(part.reopen, ctx).toMatch(/^(?:|(`{3,}|~{3,})[^\n`]*\n)$/);
    expect(part.close, ctx).toMatch(/^(?:|\n?(`{3,}|~{3,}))$/);
    const next = parts[i + 1];
    if (next) {
      expect(next.reopen !== "", ctx).toBe(part.close !== "");
      if (part.close) expect(next.reopen.startsWith(part.close.trim()), ctx).toBe(true);
    }
    // Fences balanced inside every chunk.
    expect(fenceStateAfter(part.text, F), `${ctx}: ${JSON.stringify(part.text)}`).toBeNull();
    // Never inside a surrogate pair.
    if (part.start > 0) {
      expect(isHigh(text.charCodeAt(part.start - 1)) && isLow(text.charCodeAt(part.start)), ctx).toBe(false);
    }
  }
  // The split invents no fence and loses none: a chunk reopens exactly where the original
  // is inside a code block, and closes exactly where it is left inside one.
  const states = [
    ...fenceStatesAt(
      text,
      F,
      parts.map((p) => p.start),
    ),
    fenceStateAfter(text, F),
  ];
  for (let i = 0; i < parts.length; i++) {
    expect(states[i] === "inside-fence-line", `chunk ${i} starts inside a fence line`).toBe(false);
    expect(parts[i]!.reopen !== "", `chunk ${i} reopen`).toBe(states[i] !== null);
    const after = i + 1 < parts.length ? states[i + 1] : states[parts.length];
    expect(parts[i]!.close !== "", `chunk ${i} close`).toBe(after !== null);
  }
  expect(joinParts(parts)).toBe(text);
  // Trailing whitespace (shorter than an eighth of the limit) never ends up alone in a last,
  // empty-looking message.
  const trailing = text.length - text.trimEnd().length;
  if (text.trim() !== "" && trailing <= max / 8) expect(parts[parts.length - 1]!.text.trim()).not.toBe("");
  if (!hasLoneSurrogate(text)) for (const part of parts) expect(hasLoneSurrogate(part.text)).toBe(false);
}

export function split(text: string, max: number): ChunkPart[] {
  const parts = splitMessageParts(text, max);
  checkParts(text, max, parts);
  expect(splitMessage(text, max)).toEqual(parts.map((p) => p.text));
  return parts;
}

// ---------------------------------------------------------------------------------------
