/**
 * Decides when the user sees a reply's text: throttled snapshots of the latest text, at most one
 * edit in flight, the next no sooner than the interval, rate limits honoured, and the final text
 * always lands. Text longer than one message continues in follow-up messages, split at paragraph
 * or line boundaries and never inside a code block, each within the sink's limit as sent
 * (`sentLength`: Slack's mrkdwn can be longer than the Markdown). Whitespace-only snapshots are not shown (a
 * message of nothing but "…"). When the sink finds the reply's message gone (ReplyGoneError) the
 * streamer stops for good: nothing more is edited or posted, and `onGone` stops the generation.
 */
import { randomUUID } from "node:crypto";
import { LockLostError, PlatformRateLimitedError, ReplyGoneError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { type SentChunk, splitToFit } from "../text/splitToFit.ts";
import type { EditOptions, ReplySink, ReplyTarget } from "../types.ts";

/** Room kept in each message for the note the sink shows under the answer (`EditOptions.note`). */
const NOTE_RESERVE = 200;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface ReplyStreamerOptions {
  intervalMs: number;
  logger: Logger;
  /** Throws LockLostError when this worker no longer owns the reply (checked before each edit). */
  guard?: () => Promise<void>;
  /** Called when a follow-up message was posted, with every message of the reply (persist them). */
  onMessages?: (targets: ReplyTarget[]) => Promise<void>;
  /** Called once when the lock is found lost (stop generating). */
  onLockLost?: () => void;
  /** Called once when the sink finds the reply's message gone (stop generating; post nothing more). */
  onGone?: () => void;
  /** Give up on the final edit after this long (ms). */
  finalDeadlineMs?: number;
}

export class ReplyStreamer {
  private readonly messages: ReplyTarget[];
  private readonly sent: Array<string | undefined> = [];
  private latest = "";
  private version = 0;
  private sentVersion = 0;
  private lastStart = 0;
  private retryAt = 0;
  private closed = false;
  private lockLost = false;
  private gone = false;
  /** "Thinking…" is to be shown before any text (the placeholder showed a place in line). */
  private startPending = false;
  /** Shown on the placeholder until the first text (the engine waits before asking again). */
  private waitNote: string | undefined;
  private pumping: Promise<void> | undefined;
  /** Told to the sink with every delivery (`EditOptions.attempt`). */
  private readonly attempt = randomUUID();
  /** Edits and posts actually sent (metrics, tests). */
  edits = 0;
  rateLimited = 0;

  constructor(
    private readonly sink: ReplySink,
    messages: readonly ReplyTarget[],
    private readonly opts: ReplyStreamerOptions,
  ) {
    if (messages.length === 0) throw new Error("a reply needs its placeholder message");
    this.messages = [...messages];
  }

  get targets(): readonly ReplyTarget[] {
    return this.messages;
  }

  get ownershipLost(): boolean {
    return this.lockLost;
  }

  /** The reply's message was found deleted: nothing more may be posted for it. */
  get replyGone(): boolean {
    return this.gone;
  }

  private get interval(): number {
    return Math.max(this.opts.intervalMs, this.sink.minEditIntervalMs ?? 0);
  }

  /** Offer the latest text; an edit follows when the interval allows. Never blocks. Whitespace alone is not shown. */
  update(text: string): void {
    if (this.closed || text.trim().length === 0 || text === this.latest) return;
    this.latest = text;
    this.version++;
    this.kick();
  }

  /**
   * Generation started: the placeholder says so (the sink's `started`, "Thinking…") before the first
   * text, when it showed a place in line. Skipped once text is on its way. Never blocks.
   */
  started(): void {
    if (this.closed || !this.sink.started || this.version > 0) return;
    this.startPending = true;
    this.kick();
  }

  /**
   * The reply has not started and will not for a while (the model server asked to wait): the
   * placeholder shows `note` until the first text replaces it. Ignored once text is shown. Never blocks.
   */
  waiting(note: string): void {
    if (this.closed || this.latest.length > 0 || note === this.waitNote) return;
    this.waitNote = note;
    this.version++;
    this.kick();
  }

  private kick(): void {
    this.pumping ??= this.pump().finally(() => {
      this.pumping = undefined;
    });
  }

  private async waitTurn(): Promise<void> {
    const wait = Math.max(this.lastStart + this.interval, this.retryAt) - Date.now();
    if (wait > 0) await sleep(wait);
  }

  private async pump(): Promise<void> {
    while (!this.closed && (this.sentVersion < this.version || this.startPending)) {
      await this.waitTurn();
      if (this.closed) return;
      const v = this.version;
      try {
        if (v === 0 && this.startPending) await this.showStarted();
        else {
          this.startPending = false;
          await this.deliver(this.latest, false, this.latest.length > 0 ? undefined : this.waitNote);
        }
        this.sentVersion = v;
      } catch (err) {
        if (err instanceof PlatformRateLimitedError) {
          this.rateLimited++;
          this.retryAt = Date.now() + err.retryAfterMs;
          this.opts.logger.warn({ retryAfterMs: err.retryAfterMs }, "edit rate limited; waiting");
        } else if (err instanceof LockLostError) {
          this.lockLost = true;
          this.closed = true;
          this.opts.logger.warn("job lock lost; this worker stops editing the reply");
          this.opts.onLockLost?.();
        } else if (err instanceof ReplyGoneError) {
          this.markGone();
        } else {
          // A failed intermediate edit is not fatal: the next one carries newer text.
          this.sentVersion = v;
          this.startPending = false;
          this.opts.logger.warn({ err }, "intermediate edit failed");
        }
      }
    }
  }

  private async showStarted(): Promise<void> {
    this.lastStart = Date.now();
    await this.opts.guard?.();
    await this.sink.acquireBudget?.(this.messages[0]!);
    await this.sink.started?.(this.messages[0]!);
    this.startPending = false;
    this.edits++;
  }

  private markGone(): void {
    if (this.gone) return;
    this.gone = true;
    this.closed = true;
    this.opts.logger.warn("the reply's message is gone; nothing more is posted for it");
    this.opts.onGone?.();
  }

  /** Stop streaming and wait until the edit in flight (if any) has landed or failed. Never throws. */
  async settle(): Promise<void> {
    this.closed = true;
    await this.pumping?.catch(() => {});
  }

  /**
   * Send the final text (with an optional note under it) and wait until it landed.
   * Throws LockLostError when another worker owns the reply, ReplyGoneError when its message is
   * gone (nothing was sent), or the last error after the deadline.
   */
  async finish(text: string, note?: string): Promise<void> {
    this.closed = true;
    await this.pumping;
    if (this.lockLost) throw new LockLostError();
    if (this.gone) throw new ReplyGoneError();
    const deadline = Date.now() + (this.opts.finalDeadlineMs ?? 120_000);
    let attempt = 0;
    for (;;) {
      await this.waitTurn();
      try {
        await this.deliver(text, true, note);
        return;
      } catch (err) {
        if (err instanceof LockLostError) {
          this.lockLost = true;
          throw err;
        }
        if (err instanceof ReplyGoneError) {
          this.markGone();
          throw err;
        }
        attempt++;
        if (err instanceof PlatformRateLimitedError) {
          this.rateLimited++;
          this.retryAt = Date.now() + err.retryAfterMs;
        } else {
          this.retryAt = Date.now() + Math.min(250 * 2 ** attempt, 8000);
        }
        if (this.retryAt > deadline) throw err;
        this.opts.logger.warn({ err, attempt }, "final edit failed; retrying");
      }
    }
  }

  /**
   * Stop streaming and show `text` with a note, not as the final version (the reply will be
   * continued by another worker). Best effort: failures are logged, not thrown.
   */
  async interim(text: string, note: string): Promise<void> {
    this.closed = true;
    await this.pumping;
    if (this.lockLost || this.gone) return;
    try {
      await this.waitTurn();
      await this.deliver(text, false, note);
    } catch (err) {
      this.opts.logger.warn({ err }, "could not show the interruption note");
    }
  }

  private async deliver(text: string, final: boolean, note?: string): Promise<void> {
    const limit = Number.isFinite(this.sink.maxLength) ? this.sink.maxLength - NOTE_RESERVE : Infinity;
    const measure = this.sink.sentLength?.bind(this.sink);
    const parts: SentChunk[] = Number.isFinite(limit) ? splitToFit(text, limit, measure) : [{ text, close: "" }];
    if (parts.length === 0) parts.push({ text: "", close: "" });
    this.lastStart = Date.now();
    const attempt = this.attempt;
    for (let i = 0; i < parts.length; i++) {
      const last = i === parts.length - 1;
      const { text: body, close } = parts[i]!;
      // Every message of a final delivery is final (no more edits: sinks drop their Stop buttons).
      // The note goes under the last message; the sink shows it in the room kept for it.
      const opts: EditOptions = last && note ? { final, last, note, attempt } : { final, last, attempt };
      if (close) opts.closing = close;
      const key = `${body}\u0000${opts.note ?? ""}\u0000${opts.final}`;
      if (i < this.messages.length) {
        if (this.sent[i] === key) continue;
        await this.opts.guard?.();
        await this.sink.acquireBudget?.(this.messages[i]!);
        await this.sink.edit(this.messages[i]!, body, opts);
      } else {
        await this.opts.guard?.();
        await this.sink.acquireBudget?.(this.messages[i - 1]!);
        const posted = await this.sink.post(this.messages[i - 1]!, body, { ...opts, part: i });
        this.messages.push(posted);
        await this.opts.onMessages?.(this.messages);
      }
      this.sent[i] = key;
      this.edits++;
    }
    // Follow-ups left from an earlier attempt at this reply (a crashed worker) that the text no longer needs.
    if (final) {
      for (let i = parts.length; i < this.messages.length; i++) {
        if (this.sent[i] === "\u0000end") continue;
        await this.sink.acquireBudget?.(this.messages[i]!);
        await this.sink.edit(this.messages[i]!, "…", { final: true, attempt });
        this.sent[i] = "\u0000end";
      }
    }
  }
}
