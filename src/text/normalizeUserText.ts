/**
 * Cleaning of what users type, before it is queued and shown to the model.
 */

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/** C0 controls except \t and \n, DEL, C1 controls. */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
/**
 * Characters that show nothing: Unicode White_Space (U+3000 included), format characters (Cf:
 * U+200B–U+200F, U+2060, U+FEFF, U+180E, U+00AD, …) and the other default-ignorable code points
 * (variation selectors, U+3164 HANGUL FILLER, …), plus U+2800 BRAILLE PATTERN BLANK.
 */
const INVISIBLE_ONLY = /^[\p{White_Space}\p{Cf}\p{Default_Ignorable_Code_Point}\u2800]*$/u;

/** Whether `text` has nothing to read: empty, or only whitespace and invisible characters. */
export function isBlankText(text: string): boolean {
  return INVISIBLE_ONLY.test(text);
}

/**
 * Normalizes user input: lone surrogates → U+FFFD, CRLF / CR / U+2028 / U+2029 → "\n",
 * control characters other than "\n" and "\t" removed, Unicode NFC, trimmed. A text of only
 * whitespace and invisible characters (`isBlankText`) becomes "", so it is refused as empty.
 * Invisible characters inside a text are kept (a zero-width joiner inside an emoji, …).
 */
export function normalizeUserText(raw: string): string {
  const text = raw
    .replace(LONE_SURROGATE, "\ufffd")
    .replace(/\r\n?|[\u2028\u2029]/g, "\n")
    .replace(CONTROL, "")
    .normalize("NFC")
    .trim();
  return isBlankText(text) ? "" : text;
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
