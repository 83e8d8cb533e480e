/**
 * Splits a long reply into messages that each fit a platform's limit (Discord 2000,
 * Slack 4000: JS string length), without losing a character and without breaking a
 * fenced code block.
 *
 * Where a chunk ends, in order of preference (only cuts that keep the chunk at least half
 * full count for the first four; after that the furthest soft cut anywhere, then a hard cut):
 *   1. a paragraph boundary: after a blank line, after a closing fence line, before an
 *      opening fence line;
 *   2. a line boundary;
 *   3. after a sentence (". ", "! ", "? ", "。", "！", "？" …);
 *   4. after a space (or "，", "、");
 *   5. anywhere else (a hard cut), never inside a surrogate pair, and where possible not
 *      before a combining mark / variation selector / skin tone, not around a zero-width
 *      joiner and not inside a flag.
 * Never inside a fence line, never right after an opening fence line or right before a
 * closing one (no empty code blocks), and never so that half of a line turns into a fence.
 *
 * A chunk that ends inside a fenced block gets the fence closed at its end (`close`: "```"
 * after a newline, "\n```" after a hard cut) and the next chunk reopens it with the same
 * marker and info string (`reopen`, e.g. "```ts\n"); both count against the limit. The last
 * chunk also gets a `close` when the text itself ends inside an unterminated fence (a
 * streaming reply in the middle of a code block, or a model that stopped there). So every
 * chunk has balanced fences, and `part.text === part.reopen + text.slice(part.start,
 * part.end) + part.close` with the parts covering `text` end to end (see `joinParts`).
 *
 * ## Streaming stability
 *
 * The splitter is greedy, and the choice of each cut depends only on a bounded window: the
 * chunk's reopen line plus the next `maxLength + fenceLineMax + 2` characters of the text
 * (`fenceLineMax` = min(200, maxLength / 4): fence lines longer than that are not fences,
 * so a line is classified by its first `fenceLineMax + 1` characters), and on whether
 * anything but whitespace follows that window (see below). The remainder after a cut is
 * handled exactly as if `reopen + rest` were a fresh text. Hence:
 *   - a chunk is frozen once its window lies inside the part of the text that will not
 *     change any more and non-whitespace follows the window there: every text that extends
 *     it splits with the same chunk in the same place;
 *   - `splitMessage(text)` equals `frozen` followed by `splitMessage(tail)`.
 * `splitStable` returns that split. For append-only text (a reply streamed token by token)
 * the unchanging part is the whole current text; for a derived text that can still change
 * near its end (Slack mrkdwn of a partial Markdown reply, see `formatForSlackStreaming`),
 * pass `stableLength`. Non-frozen chunks may still move while the text grows.
 *
 * Whitespace: when only whitespace follows a cut, the cut moves back so that the last chunk
 * keeps some content (a message of blank lines alone is empty to Discord, which refuses
 * it). This fails only when the trailing whitespace run by itself nearly fills a message.
 * A whitespace-only chunk in the middle needs a whitespace run of about half the limit.
 * Empty text gives no chunks.
 *
 * Mid-line cuts (only for lines with no line break in reach) may fall inside an inline
 * construct (`code span`, a link); they are rare and cost formatting, never text.
 */

import { type Fence, fenceMarker, isClosingFence, openingFence, reopenLine } from "./fence.ts";

export const DISCORD_MAX_LENGTH = 2000;
export const SLACK_MAX_LENGTH = 4000;
/** Smallest `maxLength` the splitter accepts (room for a reopened and closed fence plus text). */
export const MIN_SPLIT_LENGTH = 32;

/** One message of a split reply, and where its content came from. */
export interface ChunkPart {
  /** The message text: `reopen + original.slice(start, end) + close`. */
  text: string;
  /** Offset of this chunk's content in the original text. */
  start: number;
  /** End offset (exclusive) of this chunk's content in the original text. */
  end: number;
  /** Fence line added at the start ("" or e.g. "```ts\n"). */
  reopen: string;
  /** Fence added at the end ("", "```" or "\n```"). */
  close: string;
}

export interface SplitStableOptions {
  /**
   * How many leading characters of `text` are final: later calls pass a text that starts
   * with them. Defaults to `text.length` (append-only text). Clamped to `[0, text.length]`.
   */
  stableLength?: number;
}

export interface SplitStableResult {
  /** Chunks that stay the same for every text extending the stable part. */
  frozen: string[];
  /** What still grows: the reopen line (if the tail starts inside a code block) + `text.slice(tailStart)`. */
  tail: string;
  /** Offset in `text` where the tail's original content starts. */
  tailStart: number;
  /** All chunks of `text`: `frozen` followed by `splitMessage(tail, maxLength)`. */
  chunks: string[];
}

/** Splits `text` into chunks of at most `maxLength` characters. */
export function splitMessage(text: string, maxLength: number): string[] {
  return splitMessageParts(text, maxLength).map((part) => part.text);
}

/** `splitMessage` with the origin of each chunk. */
export function splitMessageParts(text: string, maxLength: number): ChunkPart[] {
  return run(text, maxLength, 0).parts;
}

/** The split of `text`, and which of its chunks are final while `text` keeps growing. */
export function splitStable(text: string, maxLength: number, options: SplitStableOptions = {}): SplitStableResult {
  const stableLength = Math.max(0, Math.min(text.length, options.stableLength ?? text.length));
  const { parts, frozenCount } = run(text, maxLength, stableLength);
  const chunks = parts.map((part) => part.text);
  const first = parts[frozenCount];
  const tailStart = first ? first.start : text.length;
  const tail = first ? first.reopen + text.slice(first.start) : "";
  return { frozen: chunks.slice(0, frozenCount), tail, tailStart, chunks };
}

/** The original text back from all the parts of a split (drops the added fence lines). */
export function joinParts(parts: readonly ChunkPart[]): string {
  return parts.map((part) => part.text.slice(part.reopen.length, part.text.length - part.close.length)).join("");
}

// ---------------------------------------------------------------------------------------

type LineKind = "open" | "close" | "code" | "text";

interface Line {
  start: number;
  /** Index of the line's "\n", or the window's length. */
  end: number;
  kind: LineKind;
  /** Fence state at the start of the line. */
  before: Fence | null;
  /** Fence state after the line. */
  after: Fence | null;
  /** Starts with optional whitespace and ``` or ~~~ (may still be no fence line). */
  fenceLike: boolean;
  /** Contains ``` or ~~~ somewhere (so a cut inside it could leave a fence-like rest). */
  hasRun: boolean;
}

/** Soft cut levels, best first (indexes into `best`). */
const Level = { Paragraph: 0, Line: 1, Sentence: 2, Space: 3 } as const;
type Level = (typeof Level)[keyof typeof Level];

function fenceLineMaxFor(maxLength: number): number {
  return Math.min(200, Math.floor(maxLength / 4));
}

function run(text: string, maxLength: number, stableLength: number): { parts: ChunkPart[]; frozenCount: number } {
  if (!Number.isInteger(maxLength) || maxLength < MIN_SPLIT_LENGTH) {
    throw new RangeError(`maxLength must be an integer ≥ ${MIN_SPLIT_LENGTH}, got ${maxLength}`);
  }
  const F = fenceLineMaxFor(maxLength);
  const windowSize = maxLength + F + 2;
  const parts: ChunkPart[] = [];
  let frozenCount = 0;
  let frozenRun = true;
  // Whether anything but whitespace follows a window decides where the last chunk may end
  // (see `decide`), so a chunk is frozen only once non-whitespace follows its window.
  const contentEnd = endOfContent(text, text.length);
  const stableContentEnd = endOfContent(text, stableLength);
  let p = 0;
  let prefix = "";
  while (prefix.length + (text.length - p) > 0) {
    const contentWindow = windowSize - prefix.length;
    const atEnd = text.length - p <= contentWindow;
    const W = prefix + text.slice(p, p + contentWindow);
    const d = decide(W, atEnd, contentEnd <= p + contentWindow, maxLength, F);
    const end = p + d.cut - prefix.length;
    if (end <= p && !(atEnd && d.cut === W.length)) throw new Error("splitMessage: no progress (internal error)");
    parts.push({ text: W.slice(0, d.cut) + d.close, start: p, end, reopen: prefix, close: d.close });
    if (frozenRun && stableContentEnd > p + contentWindow) frozenCount++;
    else frozenRun = false;
    if (d.cut === W.length && atEnd) break;
    p = end;
    prefix = d.reopen;
  }
  return { parts, frozenCount };
}

/** Index after the last non-whitespace character of `text.slice(0, end)` (0 if none). */
function endOfContent(text: string, end: number): number {
  let i = end;
  while (i > 0 && /\s/.test(text[i - 1]!)) i--;
  return i;
}

interface Decision {
  /** Cut position in the window: the chunk is W.slice(0, cut) + close. */
  cut: number;
  close: string;
  /** Fence line the next chunk starts with. */
  reopen: string;
}

function parseLines(W: string, atEnd: boolean, F: number): Line[] {
  const lines: Line[] = [];
  let fence: Fence | null = null;
  let s = 0;
  for (;;) {
    const nl = W.indexOf("\n", s);
    const end = nl === -1 ? W.length : nl;
    // A line cut off by the window end is longer than F whenever it matters (it starts at
    // or before maxLength), so it is no fence line whatever comes after.
    const truncated = nl === -1 && !atEnd;
    const before = fence;
    let kind: LineKind;
    const length = end - s;
    if (truncated || length > F) {
      kind = fence ? "code" : "text";
    } else {
      const content = W.slice(s, end);
      if (fence) {
        kind = isClosingFence(content, fence, F) ? "close" : "code";
        if (kind === "close") fence = null;
      } else {
        const opened = openingFence(content, F);
        if (opened) {
          kind = "open";
          fence = opened;
        } else kind = "text";
      }
    }
    const slice = W.slice(s, end);
    lines.push({
      start: s,
      end,
      kind,
      before,
      after: fence,
      fenceLike: startsFenceLike(W, s, end),
      hasRun: slice.includes("```") || slice.includes("~~~"),
    });
    if (nl === -1) break;
    s = nl + 1;
  }
  return lines;
}

function startsFenceLike(W: string, from: number, to: number): boolean {
  let i = from;
  while (i < to && (W[i] === " " || W[i] === "\t")) i++;
  if (i + 3 > to) return false;
  const c = W[i];
  return (c === "`" || c === "~") && W[i + 1] === c && W[i + 2] === c;
}

/** Whether `line` (complete, no "\n") would be a fence line in state `state`. */
function isFenceLine(line: string, state: Fence | null, F: number): boolean {
  if (line.length > F) return false;
  return state ? isClosingFence(line, state, F) : openingFence(line, F) !== null;
}

function closeFor(W: string, cut: number, state: Fence | null): string {
  if (!state) return "";
  return (cut === 0 || W[cut - 1] === "\n" ? "" : "\n") + fenceMarker(state);
}

/**
 * Where the chunk at the start of window `W` ends. `atEnd`: W holds all the rest of the text.
 * `blankAfter`: nothing but whitespace follows W.
 */
function decide(W: string, atEnd: boolean, blankAfter: boolean, maxLength: number, F: number): Decision {
  const lines = parseLines(W, atEnd, F);
  const last = lines[lines.length - 1]!;

  if (atEnd) {
    const close = closeFor(W, W.length, last.after);
    if (W.length + close.length <= maxLength) return { cut: W.length, close, reopen: "" };
  }

  const top = Math.min(maxLength, W.length - 1);
  // At the end of the text, keep some content for the last chunk: a chunk of trailing
  // whitespace alone would be an empty message (Discord refuses those).
  const contentEnd = blankAfter ? endOfContent(W, W.length) : W.length + 1;
  let cut = contentEnd - 1 < top ? selectCut(W, lines, contentEnd - 1, maxLength, F) : -1;
  if (cut === -1) cut = selectCut(W, lines, top, maxLength, F);
  if (cut === -1) cut = fallbackCut(W, lines, top, maxLength);

  let li = lines.length - 1;
  while (lines[li]!.start > cut) li--;
  const state = lines[li]!.before;
  return { cut, close: closeFor(W, cut, state), reopen: state ? reopenLine(state) : "" };
}

/** The best cut at or below `top` by the preference order in the module comment; -1 if none is allowed. */
function selectCut(W: string, lines: Line[], top: number, maxLength: number, F: number): number {
  const half = Math.floor(maxLength / 2);
  const best: [number, number, number, number] = [-1, -1, -1, -1];
  let bestSoft = -1;
  let bestHard = -1;

  let li = lines.length - 1;
  for (let c = top; c >= 1; c--) {
    while (lines[li]!.start > c) li--;
    const line = lines[li]!;
    const state = line.before;
    const len = c + closeFor(W, c, state).length;
    if (len > maxLength) continue;
    let level: Level | -1;
    if (c === line.start) {
      const prev = lines[li - 1]!;
      if (prev.kind === "open" || line.kind === "close") continue;
      level = prev.start === prev.end || prev.kind === "close" || line.kind === "open" ? Level.Paragraph : Level.Line;
    } else {
      if (line.kind === "open" || line.kind === "close") continue;
      if (isHighSurrogate(W.charCodeAt(c - 1)) && isLowSurrogate(W.charCodeAt(c))) continue;
      if (softBadBoundary(W, c)) continue;
      if (line.fenceLike && isFenceLine(W.slice(line.start, c), state, F)) continue;
      if (line.hasRun && startsFenceLike(W, c, line.end) && isFenceLine(W.slice(c, line.end), state, F)) continue;
      level = midLineLevel(W, c);
    }
    if (level === -1) {
      if (bestHard === -1) bestHard = c;
      continue;
    }
    if (bestSoft === -1) bestSoft = c;
    if (c >= half && best[level] === -1) best[level] = c;
  }

  const preferred = best.find((c) => c !== -1);
  if (preferred !== undefined) return preferred;
  return bestSoft !== -1 ? bestSoft : bestHard;
}

/** Last resort (not reached by any text we know of): the furthest cut that fits, fences ignored. */
function fallbackCut(W: string, lines: Line[], top: number, maxLength: number): number {
  let li = lines.length - 1;
  for (let c = top; c >= 1; c--) {
    while (lines[li]!.start > c) li--;
    if (isHighSurrogate(W.charCodeAt(c - 1)) && isLowSurrogate(W.charCodeAt(c))) continue;
    if (c + closeFor(W, c, lines[li]!.before).length <= maxLength) return c;
  }
  throw new Error("splitMessage: no cut fits (maxLength too small)");
}

const SENTENCE_END_ASCII = ".!?;:";
const SENTENCE_END_WIDE = "。！？；…";
const CLAUSE_END_WIDE = "，、";

function midLineLevel(W: string, c: number): Level | -1 {
  const before = W[c - 1]!;
  if (SENTENCE_END_WIDE.includes(before)) return Level.Sentence;
  if (before === " " || before === "\t") {
    return c >= 2 && SENTENCE_END_ASCII.includes(W[c - 2]!) ? Level.Sentence : Level.Space;
  }
  if (CLAUSE_END_WIDE.includes(before)) return Level.Space;
  return -1;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

// biome-ignore lint/suspicious/noMisleadingCharacterClass: these are combining characters on purpose (a split must not fall before one)
const EXTENDING = /^[\p{M}\u200d\ufe00-\ufe0f\u{1f3fb}-\u{1f3ff}\u{e0020}-\u{e007f}\u{e0100}-\u{e01ef}]/u;

function isRegionalIndicator(cp: number | undefined): boolean {
  return cp !== undefined && cp >= 0x1f1e6 && cp <= 0x1f1ff;
}

/** A cut at c would split a user-perceived character (only looks inside the window). */
function softBadBoundary(W: string, c: number): boolean {
  if (EXTENDING.test(W.slice(c, c + 2))) return true;
  if (W[c - 1] === "\u200d") return true;
  // Flags: pairs of regional indicators (2 code units each), counted from the run's start.
  if (isRegionalIndicator(W.codePointAt(c)) && c >= 2 && isRegionalIndicator(W.codePointAt(c - 2))) {
    let n = 0;
    for (let i = c - 2; i >= 0 && isRegionalIndicator(W.codePointAt(i)) && isLowSurrogate(W.charCodeAt(i + 1)); i -= 2) n++;
    if (n % 2 === 1) return true;
  }
  return false;
}
