/**
 * Markdown as the model writes it → Slack mrkdwn.
 *
 * | Markdown                         | mrkdwn                                  |
 * |----------------------------------|-----------------------------------------|
 * | `**b**`, `__b__`                 | `*b*`                                   |
 * | `*i*`, `_i_`                     | `_i_`                                   |
 * | `***bi***`                       | `*_bi_*`                                |
 * | `~~s~~`                          | `~s~`                                   |
 * | `[t](https://u)`, `![alt](url)`  | `<https://u\|t>` (http, https, mailto only; other targets become `t (target)`) |
 * | `<https://u>` autolink           | `<https://u>`                           |
 * | `# H` … `###### H`               | `*H*` on its own line                   |
 * | `- x`, `* x`, `+ x`              | `• x`, indentation kept; `- [ ] x` → `• ☐ x`, `- [x] x` → `• ☑ x` |
 * | `1. x`, `> q`                    | kept (the quote's content converted)    |
 * | `---`, `***`, `___`              | a line of `─`                           |
 * | `` `c` ``, fenced blocks         | kept verbatim inside; fences become a bare "```" (Slack has no language tag; "~~~" fences too) |
 * | tables                           | left as they are (Slack renders no tables; the pipes stay readable and, unlike a code block, the cells keep their formatting) |
 *
 * Escaping: Slack treats `&`, `<` and `>` as control characters everywhere in message
 * text, code included ("Formatting text for app surfaces" → Escaping text), so every one of
 * them the model wrote becomes `&amp;`, `&lt;`, `&gt;`, in code too; only the links
 * generated here keep raw angle brackets, and a line-start `>` that marks a quote stays raw.
 * A "```" run inside a code line would end Slack's code block early, so it gets zero-width
 * spaces between its backticks.
 *
 * Conversion is line by line (emphasis and code spans never span lines; a line's meaning
 * depends only on the fence state before it): the output for the complete lines of a
 * partial reply never changes when more text arrives, which keeps streamed Slack messages
 * stable. Setext headings (`Title` over `===`) are not recognized for the same reason.
 */

import { type Fence, isClosingFence, openingFence } from "./fence.ts";

/** Converts Markdown to Slack mrkdwn (see the module comment). Does not neutralize mentions: use `formatForSlack`. */
export function toMrkdwn(markdown: string): string {
  const out: string[] = [];
  let fence: Fence | null = null;
  for (const raw of markdown.split("\n")) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (fence) {
      if (isClosingFence(line, fence)) {
        out.push("```");
        fence = null;
      } else {
        out.push(codeLine(stripIndent(line, fence.indent)));
      }
      continue;
    }
    const opened = openingFence(line);
    if (opened) {
      fence = opened;
      out.push("```");
      continue;
    }
    out.push(convertLine(line));
  }
  return out.join("\n");
}

/** Escapes `&`, `<`, `>` for Slack (for plain text you post, e.g. a user's question echoed back). */
export function escapeSlackText(text: string): string {
  return text.replace(/[&<>]/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : "&gt;"));
}

function codeLine(line: string): string {
  return escapeSlackText(line).replace(/`{3,}/g, (run) => run.split("").join("\u200b"));
}

/** CommonMark: content lines lose up to the fence's indentation. */
function stripIndent(line: string, indent: number): string {
  let i = 0;
  while (i < indent && i < line.length && (line[i] === " " || line[i] === "\t")) i++;
  return line.slice(i);
}

const HR = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))??(?:[ \t]+#+)?[ \t]*$/;
const QUOTE = /^ {0,3}>[ \t]?(.*)$/;
const BULLET = /^([ \t]*)[-*+][ \t]+(.*)$/;
const ORDERED = /^([ \t]*)(\d{1,9}[.)])([ \t]+)(.*)$/;
const TASK = /^\[([ xX])\][ \t]+/;

function convertLine(line: string, depth = 0): string {
  if (/^[ \t]*$/.test(line)) return "";
  if (HR.test(line)) return "──────────";
  const heading = HEADING.exec(line);
  if (heading) {
    const content = (heading[2] ?? "").trim();
    return content ? `*${inline(content, { bold: "" })}*` : "";
  }
  const quote = QUOTE.exec(line);
  if (quote && depth < 8) {
    // Slack quotes have one level: only the outermost marker stays a raw ">".
    const marker = depth === 0 ? ">" : "&gt;";
    const rest = convertLine(quote[1] ?? "", depth + 1);
    return rest ? `${marker} ${rest}` : marker;
  }
  const bullet = BULLET.exec(line);
  if (bullet) {
    let rest = bullet[2] ?? "";
    let box = "";
    const task = TASK.exec(rest);
    if (task) {
      box = task[1] === " " ? "☐ " : "☑ ";
      rest = rest.slice(task[0].length);
    }
    return `${bullet[1] ?? ""}• ${box}${inline(rest)}`;
  }
  const ordered = ORDERED.exec(line);
  if (ordered) return `${ordered[1] ?? ""}${ordered[2] ?? ""}${ordered[3] ?? ""}${inline(ordered[4] ?? "")}`;
  return inline(line);
}

// ---------------------------------------------------------------------------------------
// Inline: code spans, links, autolinks and bare URLs are cut out first (replaced by one
// private-use placeholder character each), emphasis is rewritten on what is left, that is
// escaped, and the placeholders are put back.

const BOLD_MARK = "\ue000";
const PLACEHOLDER_BASE = 0xe001;
const PLACEHOLDER_LAST = 0xf8ff;
const PRIVATE_USE = /[\ue000-\uf8ff]/;

interface InlineOptions {
  /** What bold becomes: "*" normally, "" inside a heading (already bold). */
  bold?: string;
  /** Inside a link label: no nested links. */
  inLink?: boolean;
}

function inline(text: string, options: InlineOptions = {}): string {
  const tokens: string[] = [];
  let protectedText = "";
  let i = 0;
  let overflow = false;
  const push = (output: string): boolean => {
    if (PLACEHOLDER_BASE + tokens.length > PLACEHOLDER_LAST) {
      overflow = true;
      return false;
    }
    protectedText += String.fromCharCode(PLACEHOLDER_BASE + tokens.length);
    tokens.push(output);
    return true;
  };
  while (i < text.length) {
    const c = text[i]!;
    let consumed = 0;
    if (c === "\\" && /^[!-/:-@[-`{-~]$/.test(text[i + 1] ?? "")) {
      // A backslash escape: the character stays literal.
      consumed = push(escapeSlackText(text[i + 1]!)) ? 2 : 0;
    } else if (c === "`") {
      consumed = codeSpan(text, i, push);
    } else if ((c === "[" || (c === "!" && text[i + 1] === "[")) && !options.inLink) {
      consumed = link(text, i, push, options);
    } else if (c === "<") {
      consumed = autolink(text, i, push);
    } else if ((c === "h" || c === "H") && (i === 0 || !/[\p{L}\p{N}_]/u.test(text[i - 1]!))) {
      consumed = bareUrl(text, i, push);
    } else if (PRIVATE_USE.test(c)) {
      consumed = push(c) ? 1 : 0;
    }
    if (consumed > 0) {
      i += consumed;
    } else {
      protectedText += c;
      i++;
    }
  }
  // More tokens on one line than placeholders: give up on formatting, stay safe.
  if (overflow) return escapeSlackText(text);
  let s = emphasis(protectedText, options.bold ?? "*");
  s = escapeSlackText(s);
  return s.replace(/[\ue001-\uf8ff]/g, (ph) => tokens[ph.charCodeAt(0) - PLACEHOLDER_BASE] ?? ph);
}

function emphasis(s: string, bold: string): string {
  return s
    .replace(/(?<![*\p{L}\p{N}])\*\*\*(?=[^\s*])(.+?)(?<=[^\s*])\*\*\*(?![*\p{L}\p{N}])/gu, `${BOLD_MARK}_$1_${BOLD_MARK}`)
    .replace(/\*\*(?=[^\s*])(.+?)(?<=[^\s*])\*\*/g, `${BOLD_MARK}$1${BOLD_MARK}`)
    .replace(/(?<![_\p{L}\p{N}])__(?=[^\s_])(.+?)(?<=[^\s_])__(?![_\p{L}\p{N}])/gu, `${BOLD_MARK}$1${BOLD_MARK}`)
    .replace(/(?<![*\p{L}\p{N}])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\p{L}\p{N}])/gu, "_$1_")
    .replace(/~~(?=[^\s~])(.+?)(?<=[^\s~])~~/g, "~$1~")
    .replaceAll(BOLD_MARK, bold);
}

type Push = (output: string) => boolean;

function codeSpan(text: string, i: number, push: Push): number {
  let n = 0;
  while (text[i + n] === "`") n++;
  // Find a closing run of exactly n backticks.
  let j = i + n;
  for (;;) {
    const k = text.indexOf("`", j);
    if (k === -1) return literal(text, i, n, push);
    let m = 0;
    while (text[k + m] === "`") m++;
    if (m === n) {
      const content = text.slice(i + n, k);
      const out = content.includes("`") ? `${"`".repeat(n)}${escapeSlackText(content)}${"`".repeat(n)}` : `\`${escapeSlackText(content)}\``;
      return push(out) ? k + n - i : 0;
    }
    j = k + m;
  }
}

/** An unmatched backtick run: literal text, but kept away from emphasis parsing. */
function literal(text: string, i: number, n: number, push: Push): number {
  return push(text.slice(i, i + n)) ? n : 0;
}

const SAFE_URL = /^(?:https?:\/\/|mailto:)/i;

/** Makes a URL safe inside `<url|label>`: no raw `<`, `>`, `|`, spaces; `&` as `&amp;`. */
function slackUrl(url: string): string {
  return url.replace(/[<>| \t]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`).replace(/&/g, "&amp;");
}

function link(text: string, i: number, push: Push, options: InlineOptions): number {
  const image = text[i] === "!";
  const open = image ? i + 1 : i;
  // Label with balanced brackets.
  let depth = 0;
  let j = open;
  for (; j < text.length; j++) {
    const ch = text[j];
    if (ch === "\\") {
      j++;
      continue;
    }
    if (ch === "[") depth++;
    else if (ch === "]" && --depth === 0) break;
  }
  if (j >= text.length || text[j + 1] !== "(") return 0;
  const label = text.slice(open + 1, j);
  // Destination: <...> or up to whitespace / the matching ")", then an optional title.
  let k = j + 2;
  while (text[k] === " ") k++;
  let url: string;
  if (text[k] === "<") {
    const close = text.indexOf(">", k);
    if (close === -1) return 0;
    url = text.slice(k + 1, close);
    k = close + 1;
  } else {
    let parens = 0;
    const start = k;
    for (; k < text.length; k++) {
      const ch = text[k]!;
      if (ch === " " || ch === "\t") break;
      if (ch === "(") parens++;
      else if (ch === ")") {
        if (parens === 0) break;
        parens--;
      }
    }
    url = text.slice(start, k);
  }
  while (text[k] === " ") k++;
  const q = text[k];
  if (q === '"' || q === "'" || q === "(") {
    const endQuote = text.indexOf(q === "(" ? ")" : q, k + 1);
    if (endQuote === -1) return 0;
    k = endQuote + 1;
    while (text[k] === " ") k++;
  }
  if (text[k] !== ")") return 0;
  const labelOut = inline(label, { ...options, inLink: true });
  let out: string;
  if (SAFE_URL.test(url)) {
    out = labelOut ? `<${slackUrl(url)}|${labelOut}>` : `<${slackUrl(url)}>`;
  } else if (url) {
    out = labelOut ? `${labelOut} (${escapeSlackText(url)})` : escapeSlackText(url);
  } else {
    out = labelOut;
  }
  return push(out) ? k + 1 - i : 0;
}

function autolink(text: string, i: number, push: Push): number {
  const m = /^<((?:https?:\/\/|mailto:)[^\s<>]*)>/i.exec(text.slice(i));
  if (!m) return 0;
  return push(`<${slackUrl(m[1] ?? "")}>`) ? m[0].length : 0;
}

function bareUrl(text: string, i: number, push: Push): number {
  const m = /^https?:\/\/[^\s<>]+/i.exec(text.slice(i, i + 4096));
  if (!m) return 0;
  let url = m[0];
  // Trailing punctuation belongs to the sentence; a ")" only when unbalanced.
  for (;;) {
    const last = url[url.length - 1]!;
    if (/[.,;:!?'"*_~\]]/.test(last)) url = url.slice(0, -1);
    else if (last === ")" && (url.match(/\(/g)?.length ?? 0) < (url.match(/\)/g)?.length ?? 0)) url = url.slice(0, -1);
    else break;
  }
  return push(escapeSlackText(url)) ? url.length : 0;
}
