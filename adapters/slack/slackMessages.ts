/**
 * What the bot's Slack messages look like: reply text (Markdown → mrkdwn, mentions escaped),
 * the blocks of a reply that is still streaming (its text in sections, and a Stop button), the
 * placeholder, the echo of an `/ask` question, and Slack-formatted user text turned back into
 * plain text for the model.
 */
import type { types } from "@slack/bolt";
import { composeWithNote } from "../../src/text/composeWithNote.ts";
import { escapeSlackMentions, formatForSlack } from "../../src/text/escapeMentions.ts";
import { SLACK_MAX_LENGTH, splitMessage } from "../../src/text/splitMessage.ts";
import { escapeSlackText } from "../../src/text/toMrkdwn.ts";

export const STOP_ACTION_ID = "qwenbot_stop";
export const CONTROLS_BLOCK_ID = "qwenbot_controls";
export const PLACEHOLDER_TEXT = "⏳ Thinking…";
/** Section blocks hold at most 3000 characters. */
const SECTION_MAX = 3000;
/** 50 blocks per message, one of them the controls. */
const MAX_SECTIONS = 49;

/** Model output (Markdown) as the text of a Slack message: mrkdwn, nothing that pings, never empty. */
export function slackReplyText(markdown: string): string {
  const text = formatForSlack(markdown)
    .replace(/^(?:[ \t]*\n)+/, "")
    .trimEnd();
  return text.length > 0 ? text : "…";
}

/** How a note sits under an answer ("_(stopped)_"), as Markdown (converted with the answer). */
export function renderSlackNote(note: string): string {
  return `\n\n_(${note})_`;
}

/** A reply's text with its note under it (`renderSlackNote`), the note shortened to keep the message within SLACK_MAX_LENGTH. */
export function slackTextWithNote(markdown: string, note: string | undefined): string {
  return composeWithNote((n) => slackReplyText(n ? markdown + renderSlackNote(n) : markdown), note, SLACK_MAX_LENGTH);
}

export function stopButtonBlock(requestId: string): types.ActionsBlock {
  return {
    type: "actions",
    block_id: CONTROLS_BLOCK_ID,
    elements: [{ type: "button", action_id: STOP_ACTION_ID, text: { type: "plain_text", text: "Stop", emoji: true }, value: requestId }],
  };
}

/** A streaming reply: its mrkdwn in section blocks (≤ 3000 characters each, fences balanced), then the Stop button. */
export function streamingBlocks(mrkdwn: string, requestId: string): types.KnownBlock[] {
  const sections = splitMessage(mrkdwn, SECTION_MAX).slice(0, MAX_SECTIONS);
  if (sections.length === 0) sections.push("…");
  return [...sections.map((text): types.SectionBlock => ({ type: "section", text: { type: "mrkdwn", text } })), stopButtonBlock(requestId)];
}

/** A waiting message's place in line (`ahead` messages of its conversation before it; 0: next). */
export function waitingText(ahead: number): string {
  return ahead <= 0 ? "⏳ Next in line…" : `⏳ Waiting — ${ahead} message${ahead === 1 ? "" : "s"} ahead of yours in this conversation…`;
}

/** The placeholder reply the adapter posts at once: "Thinking…", or its place in line when others are ahead. */
export function placeholderMessage(requestId: string, ahead = 0): { text: string; blocks: types.KnownBlock[] } {
  const text = ahead > 0 ? waitingText(ahead) : PLACEHOLDER_TEXT;
  return { text, blocks: streamingBlocks(text, requestId) };
}

/** The thread parent of an `/ask`: who asked, and the question quoted (plain text, nothing pings). */
export function askedMessage(userId: string, question: string): string {
  const quoted = escapeSlackMentions(escapeSlackText(question))
    .split("\n")
    .map((line) => `> ${line}`)
    .join("\n");
  return `<@${userId}> asked:\n${quoted}`;
}

/**
 * Slack-formatted text (`<@U1|name>`, `<#C1|general>`, `<!here>`, `<https://u|label>`, `&amp;`…)
 * as plain text for the model: `@name`, `#general`, `@here`, `label (https://u)`, `&`.
 */
export function fromSlackText(text: string): string {
  return text
    .replace(/<([^<>\n]+)>/g, (_match: string, inner: string) => {
      const bar = inner.indexOf("|");
      const target = bar === -1 ? inner : inner.slice(0, bar);
      const label = bar === -1 ? undefined : inner.slice(bar + 1);
      if (target.startsWith("@") || target.startsWith("#")) return label ? `${target[0]}${label.replace(/^[@#]/, "")}` : target;
      if (target.startsWith("!")) return label ?? `@${target.slice(1).split("^")[0]}`;
      return label && label !== target ? `${label} (${target})` : target;
    })
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

/** Why the bot cannot answer in a conversation, from the error code Slack gave for the post. */
export function cannotPostText(code: string | undefined): string {
  if (code === "not_in_channel" || code === "channel_not_found") {
    return "I can't post in this conversation. Invite me to the channel first (`/invite @qwenbot`), or send me a direct message.";
  }
  if (code === "is_archived") return "This channel is archived, so I can't answer here.";
  return `I couldn't post my answer here${code ? ` (Slack said \`${code}\`)` : ""}. Please try again in a moment.`;
}
