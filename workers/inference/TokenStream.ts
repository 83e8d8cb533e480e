/**
 * A reply as it is being generated: its tokens, and its text decoded so far for streaming.
 *
 * Why its own module: the worker shows a reply while it grows, and token boundaries fall inside
 * multi-byte characters and inside stop triggers, and a reasoning model thinks before it answers;
 * this is the one place that decides which part of the text is safe to show (no half character, no
 * start of a stop text, no thought).
 *
 * Thoughts: with the template's thought markers (Qwen3's `<think>` … `</think>`), a reply that opens
 * with the open marker (or starts inside a thought the template opened) is a thought up to the close
 * marker, and only what follows, without its leading whitespace, is the answer: `text()` and
 * `completeText()` never contain the thought. A reply that ends while still thinking has an empty
 * answer. Until the first token that is not whitespace shows whether a thought opens, nothing is shown.
 */
import type { Token } from "node-llama-cpp";
import type { ThoughtMarkers } from "./ChatTemplate.ts";

/** Where the reply is: not yet known whether it opens with a thought, in a thought, or in the answer. */
export type ReplyPhase = "undecided" | "thought" | "answer";

/** Snapshot access to a reply being generated. Multi-byte characters are never split. */
export class TokenStream {
  readonly tokens: Token[] = [];
  /** Text of `tokens[answerFrom, doneCount)`, which ends on a character boundary. */
  private doneText = "";
  private doneCount = 0;
  private state: ReplyPhase;
  /** First token of the answer (after the close marker when there was a thought). */
  private answerFrom = 0;
  /** First token inside the thought (after the open marker). */
  private thoughtFrom = 0;
  /** Tokens already searched for the close marker. */
  private scanned = 0;

  /**
   * @param detokenize decodes tokens; `previous` are the tokens just before them (for tokenizers
   *   whose decoding depends on context).
   * @param holdBack text stop triggers: a reply ending with the start of one is held back.
   * @param thought the template's thought markers, when it has any.
   */
  constructor(
    private readonly detokenize: (tokens: readonly Token[], previous?: readonly Token[]) => string,
    private readonly holdBack: readonly string[] = [],
    private readonly thought?: ThoughtMarkers,
  ) {
    this.state = !thought ? "answer" : thought.openAtStart ? "thought" : "undecided";
  }

  /** Where the reply is now. */
  get phase(): ReplyPhase {
    this.scan();
    return this.state;
  }

  /** Tokens of the thought, markers included (so far, while thinking); 0 when the reply has none. */
  get thoughtTokens(): number {
    this.scan();
    if (this.state === "thought") return this.tokens.length;
    return this.answerFrom;
  }

  /** Follow the reply through its phases, on the tokens added since the last look. */
  private scan(): void {
    if (this.state === "answer" || !this.thought) return;
    const { open, close } = this.thought;
    if (this.state === "undecided") {
      let i = 0;
      while (i < this.tokens.length && this.detokenize([this.tokens[i]!]).trim() === "") i++;
      let matched = 0;
      while (matched < open.length && i + matched < this.tokens.length && this.tokens[i + matched] === open[matched]) matched++;
      if (open.length > 0 && matched === open.length) {
        this.state = "thought";
        this.thoughtFrom = i + open.length;
        this.scanned = this.thoughtFrom;
      } else if (open.length === 0 || i + matched < this.tokens.length) {
        this.state = "answer";
        return;
      } else return; // only whitespace and the start of the open marker so far
    }
    for (let end = Math.max(this.scanned, this.thoughtFrom + close.length); end <= this.tokens.length; end++) {
      if (close.every((t, k) => this.tokens[end - close.length + k] === t)) {
        this.state = "answer";
        this.answerFrom = end;
        this.doneText = "";
        this.doneCount = end;
        return;
      }
    }
    this.scanned = this.tokens.length + 1;
  }

  /** Everything of the answer decoded, including an incomplete character at the end. */
  private decode(): { text: string; complete: boolean } {
    if (this.tokens.length < this.doneCount || this.doneCount < this.answerFrom) {
      this.doneText = "";
      this.doneCount = this.answerFrom;
    }
    const tail = this.tokens.slice(this.doneCount);
    const previous = this.tokens.slice(Math.max(this.answerFrom, this.doneCount - 4), this.doneCount);
    const tailText = tail.length === 0 ? "" : this.detokenize(tail, previous);
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

  /** The answer's text: empty while thinking; without the whitespace between the thought and the answer. */
  private answer(): string {
    this.scan();
    if (this.state === "thought") return "";
    const text = this.decode().text;
    return this.answerFrom > 0 ? text.trimStart() : text;
  }

  /**
   * The answer so far without a trailing incomplete UTF-8 character (the final text of a reply). A
   * reply that ended before it showed whether it opens a thought is all answer.
   */
  completeText(): string {
    return this.answer();
  }

  /**
   * The answer so far, without a trailing incomplete UTF-8 character or the start of a stop trigger;
   * empty while it is not known yet whether the reply opens with a thought, and while it thinks.
   */
  text(): string {
    if (this.phase === "undecided") return "";
    const s = this.answer();
    for (const trigger of this.holdBack) {
      for (let n = Math.min(trigger.length - 1, s.length); n > 0; n--) {
        if (s.endsWith(trigger.slice(0, n))) return s.slice(0, s.length - n);
      }
    }
    return s;
  }
}
