/** Slack's limits on a message's text and blocks, and the errors it answers when they are passed (never a cut). */
import { blockText } from "../util.ts";
import { SimApiError } from "./MethodSpec.ts";

/** Slack's limit on a message's `text`: longer is refused with `msg_too_long` (never cut). */
export const SLACK_MAX_TEXT = 40_000;
/** Section block text limit. */
export const SLACK_MAX_SECTION_TEXT = 3_000;
/** Markdown block text limit, across the message's markdown blocks. */
export const SLACK_MAX_MARKDOWN_BLOCK_TEXT = 12_000;
/** Blocks per message. */
export const SLACK_MAX_BLOCKS = 50;
/** `markdown_text` per call (chat.postMessage / update / the stream methods). */
export const SLACK_MAX_MARKDOWN_TEXT = 12_000;

/** Slack documents 12,000 characters for markdown_text; the simulator refuses longer with `msg_too_long`. */
export function checkMarkdownText(text: string): void {
  if (text.length > SLACK_MAX_MARKDOWN_TEXT) throw new SimApiError("msg_too_long");
}

/** Throws the error Slack answers for blocks it refuses. */
export function validateBlocks(blocks: unknown[] | undefined): void {
  if (!blocks) return;
  if (blocks.length > SLACK_MAX_BLOCKS) throw new SimApiError("invalid_blocks");
  let markdownTotal = 0;
  for (const raw of blocks) {
    if (typeof raw !== "object" || raw === null) throw new SimApiError("invalid_blocks");
    const block = raw as Record<string, unknown>;
    if (typeof block.type !== "string") throw new SimApiError("invalid_blocks");
    if (block.type === "section" && blockText(block).length > SLACK_MAX_SECTION_TEXT) {
      throw new SimApiError("invalid_blocks");
    }
    if (block.type === "markdown") markdownTotal += blockText(block).length;
  }
  if (markdownTotal > SLACK_MAX_MARKDOWN_BLOCK_TEXT) throw new SimApiError("msg_blocks_too_long");
}

/** A message needs text, blocks or attachments; text within SLACK_MAX_TEXT; valid blocks. */
export function checkText(text: string | undefined, blocks: unknown[] | undefined, attachments: unknown[] | undefined): void {
  if ((text === undefined || text === "") && !blocks?.length && !attachments?.length) throw new SimApiError("no_text");
  if (text !== undefined && text.length > SLACK_MAX_TEXT) throw new SimApiError("msg_too_long");
  validateBlocks(blocks);
}
