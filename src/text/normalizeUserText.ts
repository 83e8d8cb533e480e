/**
 * Cleaning of what users type, before it is queued and shown to the model.
 */

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/** C0 controls except \t and \n, DEL, C1 controls. */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * Normalizes user input: lone surrogates → U+FFFD, CRLF / CR / U+2028 / U+2029 → "\n",
 * control characters other than "\n" and "\t" removed, Unicode NFC, trimmed.
 */
export function normalizeUserText(raw: string): string {
  return raw
    .replace(LONE_SURROGATE, "\ufffd")
    .replace(/\r\n?|[\u2028\u2029]/g, "\n")
    .replace(CONTROL, "")
    .normalize("NFC")
    .trim();
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Removes every run of `token` matches together with the spaces/tabs around it: at the
 * start or end of a line nothing is left, between words a single space.
 */
function removeTokens(text: string, token: string): string {
  const re = new RegExp(`(?:[ \\t]*(?:${token}))+[ \\t]*`, "g");
  return text.replace(re, (match: string, offset: number, whole: string) => {
    const before = offset === 0 ? "\n" : whole[offset - 1];
    const afterIndex = offset + match.length;
    const after = afterIndex >= whole.length ? "\n" : whole[afterIndex];
    return before === "\n" || after === "\n" ? "" : " ";
  });
}

/** Removes the bot's Discord mentions (`<@id>`, `<@!id>`) wherever they appear. */
export function stripDiscordMention(text: string, botUserId: string): string {
  return removeTokens(text, `<@!?${escapeRegExp(botUserId)}>`);
}

/** Removes the bot's Slack mentions (`<@U123>`, `<@U123|name>`) wherever they appear. */
export function stripSlackMention(text: string, botUserId: string): string {
  return removeTokens(text, `<@${escapeRegExp(botUserId)}(?:\\|[^>\\n]*)?>`);
}

/** Removes the bot's mention tokens for `platform` (see the two functions above). */
export function stripMention(text: string, botUserId: string, platform: "discord" | "slack"): string {
  return platform === "discord" ? stripDiscordMention(text, botUserId) : stripSlackMention(text, botUserId);
}
