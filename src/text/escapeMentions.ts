/**
 * Model output must never notify anyone in Slack.
 *
 * Slack only parses special sequences that start with a raw `<`: `<!here>`, `<!channel>`,
 * `<!everyone>`, `<!subteam^S…>`, `<@U…>`, `<@W…>`, `<#C…>`, `<!date^…>`. `toMrkdwn` turns
 * every `<` the model wrote into `&lt;`, so after it no such sequence can exist; the only raw
 * `<` left are the links it generates (`<https://…|label>`, `<mailto:…>`).
 * `escapeSlackMentions` is the second, independent line of defence: it runs on the finished
 * mrkdwn and escapes every `<` that does not open such a safe link. The order is therefore
 * Markdown → `toMrkdwn` → `escapeSlackMentions` (`formatForSlack`). The other way round would
 * be wrong twice: `toMrkdwn` would escape the `&` of the escaper's `&lt;` (showing a literal
 * "&lt;"), and the links it builds afterwards would not have been checked.
 *
 * Plain `@here`, `@channel`, `@everyone` are not mentions in text posted through the Web API
 * as long as the message is sent without `parse: "full"` and without `link_names: true`
 * (the defaults). The adapters must keep those defaults (with `link_names`, user-group
 * handles like `@oncall` would ping too, and no text filter can know them all). The three
 * words are still neutralized by a U+2060 WORD JOINER after the `@`, so that a later change
 * of those flags, or a client that copies the text into its own message, cannot turn them
 * into workspace-wide pings; the joiner is invisible, and the price is only that the word
 * copied out of Slack carries an invisible character. Pass `{ neutralizeAtWords: false }`
 * to keep them as written.
 */

import { toMrkdwn } from "./toMrkdwn.ts";

export interface EscapeMentionsOptions {
  /** Insert U+2060 after the `@` of `@here`, `@channel`, `@everyone` (default true). */
  neutralizeAtWords?: boolean;
}

const WORD_JOINER = "\u2060";
/** Links `toMrkdwn` generates; nothing else may keep a raw `<`. */
const SAFE_LINK = /<(?:https?:\/\/|mailto:)[^\s<>|]*(?:\|[^<>\n]*)?>/giy;
const AT_WORDS = /(?<![\p{L}\p{N}_/.@:%+-])@(here|channel|everyone)(?![\p{L}\p{N}_-])/giu;

/** Escapes every `<` in Slack mrkdwn that does not open a safe http(s)/mailto link, and neutralizes `@here`-style words. */
export function escapeSlackMentions(mrkdwn: string, options: EscapeMentionsOptions = {}): string {
  const neutralize = options.neutralizeAtWords ?? true;
  const words = (s: string) => (neutralize ? s.replace(AT_WORDS, `@${WORD_JOINER}$1`) : s);
  let out = "";
  let plain = "";
  for (let i = 0; i < mrkdwn.length; ) {
    if (mrkdwn[i] === "<") {
      SAFE_LINK.lastIndex = i;
      const m = SAFE_LINK.exec(mrkdwn);
      if (m) {
        out += words(plain);
        plain = "";
        const bar = m[0].indexOf("|");
        // The URL stays as it is; a label is text like any other.
        out += bar === -1 ? m[0] : m[0].slice(0, bar + 1) + words(m[0].slice(bar + 1));
        i += m[0].length;
        continue;
      }
      plain += "&lt;";
      i++;
      continue;
    }
    plain += mrkdwn[i];
    i++;
  }
  return out + words(plain);
}

/** The whole Slack pipeline for model output: Markdown → mrkdwn → mentions escaped. */
export function formatForSlack(markdown: string, options: EscapeMentionsOptions = {}): string {
  return escapeSlackMentions(toMrkdwn(markdown), options);
}

/**
 * `formatForSlack` of a reply that is still streaming, with how much of the result is final:
 * the conversion is line by line, so the output of every complete line (up to the last
 * "\n") stays the same whatever is appended. Pass `stableLength` to `splitStable`.
 */
export function formatForSlackStreaming(markdown: string, options: EscapeMentionsOptions = {}): { text: string; stableLength: number } {
  const text = formatForSlack(markdown, options);
  const lastNewline = markdown.lastIndexOf("\n");
  const stableLength = lastNewline === -1 ? 0 : formatForSlack(markdown.slice(0, lastNewline + 1), options).length;
  return { text, stableLength };
}

/** `<https://…>` / `<mailto:…>` autolinks of Markdown: the only raw `<` Slack's Markdown may see. */
const MARKDOWN_AUTOLINK = /<(?:https?:\/\/|mailto:)[^\s<>]*>/giy;

/**
 * Model output as Markdown for Slack's own Markdown rendering (a streamed message's
 * `markdown_text`, which Slack converts itself): every `<` that does not open an autolink
 * becomes `&lt;` (so `<!here>`, `<@U…>` cannot form), and `@here`-style words get the word
 * joiner. Whether a character is escaped depends only on its run of non-whitespace and the
 * character before it, so the escape of text cut right after whitespace is a prefix of the
 * escape of every text that extends it: an append-only stream can send it piece by piece.
 */
export function escapeSlackMarkdown(markdown: string, options: EscapeMentionsOptions = {}): string {
  const neutralize = options.neutralizeAtWords ?? true;
  let out = "";
  for (let i = 0; i < markdown.length; ) {
    if (markdown[i] === "<") {
      MARKDOWN_AUTOLINK.lastIndex = i;
      const m = MARKDOWN_AUTOLINK.exec(markdown);
      if (m) {
        out += m[0];
        i += m[0].length;
      } else {
        out += "&lt;";
        i++;
      }
      continue;
    }
    const next = markdown.indexOf("<", i);
    out += markdown.slice(i, next === -1 ? markdown.length : next);
    i = next === -1 ? markdown.length : next;
  }
  return neutralize ? out.replace(AT_WORDS, `@${WORD_JOINER}$1`) : out;
}

/** How much of a growing text is safe to escape and send now: up to just after its last whitespace. */
export function stableMarkdownLength(markdown: string): number {
  for (let i = markdown.length - 1; i >= 0; i--) if (/\s/.test(markdown[i]!)) return i + 1;
  return 0;
}
