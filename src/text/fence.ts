/**
 * Fenced code block lines, the one piece of Markdown structure that both the message
 * splitter and the Slack converter must agree on.
 *
 * A fence line is a whole line (without its "\n") of at most `maxLineLength` characters:
 * optional leading spaces/tabs, a run of 3+ backticks or 3+ tildes, then an info string.
 * Unlike CommonMark, any indentation is accepted (models indent fences inside list items),
 * and lines longer than `maxLineLength` are never fences (this bounds how far ahead the
 * splitter must look to classify a line, which is what makes streaming splits stable).
 */

export interface Fence {
  /** "`" or "~". */
  readonly char: "`" | "~";
  /** Length of the opening run (3 or more). A closing run must be at least this long. */
  readonly length: number;
  /** Leading whitespace characters before the opening run. */
  readonly indent: number;
  /** The info string, trimmed ("ts", "python", "" …). */
  readonly info: string;
}

/** Longest line that can still be a fence line, unless a caller passes its own limit. */
export const FENCE_LINE_MAX = 200;

const OPENING = /^([ \t]*)(`{3,}|~{3,})([^\n]*)$/;
const CLOSING = /^[ \t]*(`{3,}|~{3,})[ \t\r]*$/;

/** The fence this line opens, or null. `line` excludes its "\n". */
export function openingFence(line: string, maxLineLength = FENCE_LINE_MAX): Fence | null {
  if (line.length > maxLineLength) return null;
  const m = OPENING.exec(line);
  if (!m) return null;
  const indent = m[1] ?? "";
  const run = m[2] ?? "";
  const rest = m[3] ?? "";
  const char = run[0] === "~" ? "~" : "`";
  // CommonMark: the info string of a backtick fence may not contain a backtick
  // ("```js x```" on one line is an inline code span, not a block).
  if (char === "`" && rest.includes("`")) return null;
  return { char, length: run.length, indent: indent.length, info: rest.trim() };
}

/** Whether this line closes `fence`. `line` excludes its "\n". */
export function isClosingFence(line: string, fence: Fence, maxLineLength = FENCE_LINE_MAX): boolean {
  if (line.length > maxLineLength) return false;
  const m = CLOSING.exec(line);
  if (!m) return false;
  const run = m[1] ?? "";
  return run[0] === fence.char && run.length >= fence.length;
}

/** The run that closes `fence` ("```", "````", "~~~"). */
export function fenceMarker(fence: Fence): string {
  return fence.char.repeat(fence.length);
}

/** The line (with its "\n") that reopens `fence` at the start of a continuation message. */
export function reopenLine(fence: Fence): string {
  return `${fenceMarker(fence)}${fence.info}\n`;
}
