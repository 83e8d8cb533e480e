/**
 * Prints a reply's streamed snapshots to a terminal — or a pipe: the output only ever appends, so
 * it reads the same in both. Every snapshot is sanitized first (no escape sequences or control
 * characters from the model reach the terminal).
 *
 * - A snapshot that extends what is on screen: the new part is appended.
 * - A note on an update that is not final ("interrupted by a worker restart — resuming shortly…"):
 *   printed at once, on its own line, in parentheses.
 * - A snapshot that does not extend what is on screen: another attempt at the answer (the worker
 *   died or was stopped, and another one answers from the start in the same reply stream). The
 *   partial text stays, a line `(interrupted — the answer starts over:)` marks it as abandoned,
 *   and the new attempt is printed in full below it.
 * - Text that continues the same attempt after a note line starts with `… `.
 * - `stalled(reason)`: a note when nothing arrived for a while (a dead worker, Redis away).
 * - The final update: its note, if any, in parentheses, then a newline.
 *
 * On a terminal (`style`), the notes are dimmed.
 */
import type { ReplyUpdate } from "../../src/stream/RedisStreamSink.ts";
import { sanitizeForTerminal } from "./sanitizeForTerminal.ts";

export const RESTART_MARK = "interrupted — the answer starts over:";

export interface StreamPrinterOptions {
  /** Dim the notes (a terminal). */
  style?: boolean;
  now?: () => number;
}

export class StreamPrinter {
  /** The current attempt's (sanitized) text, as far as it is on screen. */
  private shown = "";
  /** The last character written was a newline (or nothing was written). */
  private atLineStart = true;
  /** A note line was printed under the text: more of the same attempt continues with "… ". */
  private broken = false;
  private readonly notesShown = new Set<string>();
  private stalledShown = false;
  private lastAt: number;
  private done = false;
  /** Attempts seen (1 + the restarts). */
  attempts = 1;

  constructor(
    private readonly write: (s: string) => void,
    private readonly opts: StreamPrinterOptions = {},
  ) {
    this.lastAt = this.now();
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** Milliseconds since the last update (or since the printer was made). */
  get idleMs(): number {
    return this.now() - this.lastAt;
  }

  /** Whether any text of the answer is on screen yet. */
  get started(): boolean {
    return this.shown.length > 0 || this.attempts > 1;
  }

  get finished(): boolean {
    return this.done;
  }

  private out(s: string): void {
    if (s.length === 0) return;
    this.write(s);
    this.atLineStart = s.endsWith("\n");
  }

  /** A note on its own line. */
  private note(text: string): void {
    if (!this.atLineStart) this.out("\n");
    const line = `(${sanitizeForTerminal(text)})`;
    this.out(this.opts.style ? `\x1b[2m${line}\x1b[22m\n` : `${line}\n`);
  }

  push(update: ReplyUpdate): void {
    if (this.done) return;
    this.lastAt = this.now();
    this.stalledShown = false;
    const text = sanitizeForTerminal(update.text);
    if (text.startsWith(this.shown)) {
      const more = text.slice(this.shown.length);
      if (more.length > 0 && this.broken && this.shown.length > 0) this.out(/^\s/.test(more) ? "…" : "… ");
      this.out(more);
      if (more.length > 0) this.broken = false;
    } else {
      this.note(RESTART_MARK);
      this.attempts++;
      this.broken = false;
      this.out(text);
    }
    this.shown = text;
    if (update.final) {
      this.done = true;
      if (update.note) {
        if (!this.atLineStart) this.out("\n");
        this.out(`(${sanitizeForTerminal(update.note)})`);
      }
      this.out("\n");
    } else if (update.note && !this.notesShown.has(update.note)) {
      this.notesShown.add(update.note);
      this.note(update.note);
      this.broken = true;
    }
  }

  /** Say that nothing has arrived for a while (once per silence). */
  stalled(reason: string): void {
    if (this.done || this.stalledShown) return;
    this.stalledShown = true;
    this.note(reason);
    this.broken = true;
  }
}
