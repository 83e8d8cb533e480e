/**
 * Turns a message and its context (RequestContext: the replied-to message, the thread, files)
 * into the user turn the model sees: each part labelled, in a fixed order — replied-to message,
 * earlier thread messages, files, then the message itself — fitted to a budget. What gives way
 * first: the oldest thread messages, then the end of the files' text, then the end of the
 * replied-to message; the prompt and the reply's note say what was left out.
 *
 * Memory keeps only the message with a one-line mention of its context (`memory`), not the
 * context itself: a file or a long thread would otherwise be carried in every later prompt of the
 * conversation and crowd its history out. A follow-up about the file attaches it again.
 *
 * The texts are plain text for the model: the chat template tokenizes them without special
 * tokens, so nothing in a file or a quoted message can close the turn (test/workers/contextPrompt).
 */
import { type ContextAttachment, hasContext, type RequestContext, type ThreadMessage } from "./RequestContext.ts";

export interface RenderBudget {
  /** How much the context may take, in `measure`'s units (the message itself is not counted). */
  budget: number;
  /** The size of a text in budget units; default: its length in characters. */
  measure?: (text: string) => number;
}

export interface RenderedUserTurn {
  /** The user turn the model sees: the labelled context, then the message. */
  prompt: string;
  /** What memory keeps: the message, after a one-line mention of its context. */
  memory: string;
  /** What was left out or cut to fit, for the reply's note; undefined when everything fit. */
  omitted?: string;
}

/** Slack per part for separators and token boundaries between parts. */
const PART_SLACK = 4;
/** Longest excerpt of a replied-to message kept in memory's mention of it. */
const MEMORY_EXCERPT_CHARS = 100;

export function renderUserTurn(text: string, context: RequestContext | undefined, opts: RenderBudget): RenderedUserTurn {
  if (!hasContext(context)) return { prompt: text, memory: text };
  const measure = opts.measure ?? ((s: string) => s.length);
  let left = Math.max(0, Math.floor(opts.budget));
  const omitted: string[] = [];
  /** Take `part` out of the budget if it fits. */
  const take = (part: string): boolean => {
    const cost = measure(part) + PART_SLACK;
    if (cost > left) return false;
    left -= cost;
    return true;
  };

  // Priority: the replied-to message, the files (in order), then the thread, newest first.
  let replyBlock: string | undefined;
  const reply = context.replyTo;
  if (reply) {
    const label = reply.isBot
      ? "[The message this one replies to: your earlier answer]"
      : `[The message this one replies to, from ${reply.author}]`;
    const block = fitBlock(label, reply.text, quote, left - PART_SLACK, measure);
    if (block && take(block.text)) {
      replyBlock = block.text;
      if (block.cut) omitted.push("the end of the replied-to message");
    } else omitted.push("the replied-to message");
  }

  const fileBlocks: string[] = [];
  for (const file of context.attachments ?? []) {
    const block = renderFile(file, left - PART_SLACK, measure);
    if (block && take(block.text)) {
      fileBlocks.push(block.text);
      if (block.cut) omitted.push(`the end of ${file.name}`);
    } else omitted.push(file.name);
  }

  const thread = context.thread ?? [];
  const kept: ThreadMessage[] = [];
  const threadLabel = (dropped: number) =>
    `[Earlier messages in this thread${dropped > 0 ? ` (${dropped} older ${dropped === 1 ? "one" : "ones"} left out)` : ""}]`;
  // The label is paid for at its longest (every message left out).
  const threadShown = thread.length > 0 && take(threadLabel(thread.length));
  if (threadShown) {
    for (let i = thread.length - 1; i >= 0; i--) {
      if (!take(threadLine(thread[i]!))) break;
      kept.unshift(thread[i]!);
    }
  }
  const droppedThread = thread.length - kept.length;
  if (droppedThread > 0) omitted.push(`${droppedThread} older thread ${droppedThread === 1 ? "message" : "messages"}`);

  const parts: string[] = [];
  if (replyBlock) parts.push(replyBlock);
  if (threadShown) parts.push([threadLabel(droppedThread), ...kept.map(threadLine)].join("\n"));
  parts.push(...fileBlocks);
  parts.push(`[Message]\n${text}`);
  return {
    prompt: parts.join("\n\n"),
    memory: `${memoryMention(context)}\n${text}`,
    omitted: omitted.length > 0 ? `left out to fit the model's context: ${omitted.join(", ")}` : undefined,
  };
}

/** `12 bytes`, `1.2 KB`, `340 KB`, `2.5 MB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} ${n === 1 ? "byte" : "bytes"}`;
  const units = ["KB", "MB", "GB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v < 10 ? v.toFixed(1).replace(/\.0$/, "") : Math.round(v)} ${units[u]}`;
}

function quote(text: string): string {
  return text
    .split("\n")
    .map((l) => `> ${l}`)
    .join("\n");
}

function threadLine(m: ThreadMessage): string {
  return `${m.author}${m.isBot ? " (you)" : ""}: ${m.text}`;
}

/** A fence that the text cannot close: longer than any run of backticks in it. */
function fenceFor(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  return "`".repeat(Math.max(3, longest + 1));
}

function renderFile(file: ContextAttachment, room: number, measure: (s: string) => number): { text: string; cut: boolean } | undefined {
  const size = file.size > 0 ? formatBytes(file.size) : "size unknown";
  if (file.text === undefined) return { text: `[File ${file.name} (${size}, ${file.mimeType}): ${file.note ?? "not read"}]`, cut: false };
  const label = (read: number | undefined) => {
    const readPart = read === undefined ? "" : `, first ${formatBytes(read)} read`;
    const note = file.note ? `; ${file.note}` : "";
    return `[File ${file.name} (${size}${readPart})${note}]`;
  };
  const body = (t: string) => {
    const fence = fenceFor(t);
    return `${fence}\n${t}\n${fence}`;
  };
  const full = `${label(file.truncatedAt)}\n${body(file.text)}`;
  if (measure(full) <= room) return { text: full, cut: false };
  // Cut the text; the label then says how much of the file the kept part covers.
  // The label's length changes with the amount read ("10 KB" → "1.9 KB"): fit again with the longer one.
  let assumed = label(file.size || Buffer.byteLength(file.text));
  for (let i = 0; i < 3; i++) {
    const kept = fitText(file.text, (t) => measure(`${assumed}\n${body(t)}`) <= room);
    if (kept.length === 0) return undefined;
    const block = `${label(Buffer.byteLength(kept))}\n${body(kept)}`;
    if (measure(block) <= room) return { text: block, cut: true };
    assumed = label(Buffer.byteLength(kept));
  }
  return undefined;
}

/** `label` over `render(text)`, the text cut (marked `…`) to fit `room`; undefined when not even a little fits. */
function fitBlock(
  label: string,
  text: string,
  render: (t: string) => string,
  room: number,
  measure: (s: string) => number,
): { text: string; cut: boolean } | undefined {
  const full = `${label}\n${render(text)}`;
  if (measure(full) <= room) return { text: full, cut: false };
  const kept = fitText(text, (t) => measure(`${label}\n${render(`${t}…`)}`) <= room);
  return kept.length === 0 ? undefined : { text: `${label}\n${render(`${kept}…`)}`, cut: true };
}

/**
 * The longest start of `text` that `fits` (binary search over its length; sizes grow with the
 * length), cut on a character boundary; "" when nothing fits.
 */
export function fitText(text: string, fits: (t: string) => boolean): string {
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(text.slice(0, mid))) lo = mid;
    else hi = mid - 1;
  }
  let keep = lo;
  if (keep > 0 && keep < text.length && /[\uD800-\uDBFF]/.test(text[keep - 1]!)) keep--;
  return text.slice(0, keep);
}

/** One line for memory: what the message came with. */
function memoryMention(context: RequestContext): string {
  const parts: string[] = [];
  const reply = context.replyTo;
  if (reply) {
    const flat = reply.text.replace(/\s+/g, " ").trim();
    const excerpt = flat.length > MEMORY_EXCERPT_CHARS ? `${flat.slice(0, MEMORY_EXCERPT_CHARS)}…` : flat;
    parts.push(`replying to ${reply.isBot ? "your earlier answer" : `${reply.author}'s message`} "${excerpt}"`);
  }
  const n = context.thread?.length ?? 0;
  if (n > 0) parts.push(`${n} earlier thread ${n === 1 ? "message" : "messages"} shown`);
  for (const f of context.attachments ?? []) parts.push(`file ${f.name} (${f.text === undefined ? "not read" : "read"})`);
  return `[context: ${parts.join("; ")}]`;
}
