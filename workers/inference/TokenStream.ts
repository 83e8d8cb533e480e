/**
 * A reply as it is being generated: its tokens, and its text decoded so far for streaming.
 *
 * Why its own module: the worker shows a reply while it grows, and token boundaries fall inside
 * multi-byte characters and inside stop triggers; this is the one place that decides which part
 * of the text is safe to show (no half character, no start of a stop text).
 */
import type { Token } from "node-llama-cpp";

/** Snapshot access to a reply being generated. Multi-byte characters are never split. */
export class TokenStream {
  readonly tokens: Token[] = [];
  /** Text of `tokens[0, doneCount)`, which ends on a character boundary. */
  private doneText = "";
  private doneCount = 0;

  /**
   * @param detokenize decodes tokens; `previous` are the tokens just before them (for tokenizers
   *   whose decoding depends on context).
   * @param holdBack text stop triggers: a reply ending with the start of one is held back.
   */
  constructor(
    private readonly detokenize: (tokens: readonly Token[], previous?: readonly Token[]) => string,
    private readonly holdBack: readonly string[] = [],
  ) {}

  /** Everything decoded, including an incomplete character at the end. */
  private decode(): { text: string; complete: boolean } {
    if (this.tokens.length < this.doneCount) {
      this.doneText = "";
      this.doneCount = 0;
    }
    const tail = this.tokens.slice(this.doneCount);
    const tailText = tail.length === 0 ? "" : this.detokenize(tail, this.tokens.slice(Math.max(0, this.doneCount - 4), this.doneCount));
    // A token boundary inside a character decodes as U+FFFD at the end: hold it back until complete.
    let end = tailText.length;
    while (end > 0 && tailText.charCodeAt(end - 1) === 0xfffd && tailText.length - end < 4) end--;
    const complete = end === tailText.length;
    if (complete) {
      this.doneText += tailText;
      this.doneCount = this.tokens.length;
      return { text: this.doneText, complete };
    }
    return { text: this.doneText + tailText.slice(0, end), complete };
  }

  /** The text so far without a trailing incomplete UTF-8 character (the final text of a reply). */
  completeText(): string {
    return this.decode().text;
  }

  /** The text so far, without a trailing incomplete UTF-8 character or the start of a stop trigger. */
  text(): string {
    const s = this.decode().text;
    for (const trigger of this.holdBack) {
      for (let n = Math.min(trigger.length - 1, s.length); n > 0; n--) {
        if (s.endsWith(trigger.slice(0, n))) return s.slice(0, s.length - n);
      }
    }
    return s;
  }
}
