/**
 * `splitMessageParts` for a platform that converts the text before sending it (Slack: Markdown →
 * mrkdwn, where `&`, `<`, `>` become `&amp;`, `&lt;`, `&gt;` and a message can grow several
 * times): every chunk is at most `maxLength` long *as sent* (`measure`). A chunk that would be too
 * long once converted is cut earlier — the split of its text is retried with a smaller limit,
 * scaled by how much it grew — and the rest continues from there as a fresh text (its reopened
 * fence included), exactly as the splitter itself continues after a cut.
 *
 * Stable while a reply streams, as the splitter is: which cut a chunk gets depends only on the
 * chunk's window of the text and on what that window converts to, so a chunk whose window no
 * longer changes keeps its cut in every later (and the final) delivery — no text moves between
 * messages. Without `measure`, or when nothing grows past the limit, this is `splitMessageParts`.
 */
import { type ChunkPart, MIN_SPLIT_LENGTH, splitMessageParts } from "./splitMessage.ts";

export type SentChunk = Pick<ChunkPart, "text" | "close">;

export function splitToFit(text: string, maxLength: number, measure?: (chunk: string) => number): SentChunk[] {
  const parts = splitMessageParts(text, maxLength);
  if (!measure || parts.every((p) => measure(p.text) <= maxLength)) return parts;
  const out: SentChunk[] = [];
  let rest = text;
  for (;;) {
    let limit = maxLength;
    let split = splitMessageParts(rest, limit);
    for (;;) {
      const size = measure(split[0]!.text);
      if (size <= maxLength || limit <= MIN_SPLIT_LENGTH) break;
      limit = Math.max(MIN_SPLIT_LENGTH, Math.min(limit - 1, Math.floor((limit * maxLength) / size)));
      split = splitMessageParts(rest, limit);
    }
    const [first, second] = split;
    out.push({ text: first!.text, close: first!.close });
    if (!second) return out;
    rest = second.reopen + rest.slice(second.start);
  }
}
