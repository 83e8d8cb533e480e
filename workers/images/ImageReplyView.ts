/**
 * Decides when the user sees an image reply change, as ReplyStreamer does for text: the latest
 * snapshot only (a new preview with its step, or a progress line), at most one update in flight,
 * the next no sooner than the interval, 429s waited out, the job lock checked before each update,
 * and the final update always lands — or, when the platform refuses the picture itself (a 4xx:
 * too large), the reply says so in text instead. Sinks without `showImage` get text only.
 */
import { LockLostError, PlatformError, PlatformRateLimitedError, ReplyGoneError } from "../../src/errors.ts";
import type { Logger } from "../../src/logger.ts";
import type { ReplyImage, ReplySink, ReplyTarget } from "../../src/types.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface ImageReplyViewOptions {
  intervalMs: number;
  logger: Logger;
  /** Throws LockLostError when this worker no longer owns the reply (checked before each update). */
  guard?: () => Promise<void>;
  /** The sink moved the reply to another message: persist it (a retry updates that one). */
  onTarget?: (target: ReplyTarget) => Promise<void>;
  /** Called once when the lock is found lost (stop generating). */
  onLockLost?: () => void;
  /** Give up on the final update after this long (ms). */
  finalDeadlineMs?: number;
}

/** One state of the reply: a picture with its caption, or a line of text (with a note under it). */
export type ImageSnapshot = { kind: "image"; image: ReplyImage } | { kind: "text"; text: string; note?: string };

/** A platform error that retrying cannot fix: the platform refused this upload. */
function refusedUpload(err: unknown): boolean {
  return err instanceof PlatformError && err.status !== undefined && err.status >= 400 && err.status < 500 && err.status !== 429;
}

export class ImageReplyView {
  private current: ReplyTarget;
  private latest: ImageSnapshot | undefined;
  private version = 0;
  private sentVersion = 0;
  private lastStart = 0;
  private retryAt = 0;
  private closed = false;
  private lockLost = false;
  private pumping: Promise<void> | undefined;
  /** An image reached the platform in this reply (a later final text must say why the picture went). */
  imageShown = false;
  /** Updates the platform accepted (metrics, tests). */
  updates = 0;
  /** The reply's message is gone (a moderator deleted it): nothing more is shown, nothing retried. */
  gone = false;

  constructor(
    private readonly sink: ReplySink,
    target: ReplyTarget,
    private readonly opts: ImageReplyViewOptions,
  ) {
    this.current = target;
  }

  get target(): ReplyTarget {
    return this.current;
  }

  get ownershipLost(): boolean {
    return this.lockLost;
  }

  /** Whether this surface can show pictures at all. */
  get showsImages(): boolean {
    return this.sink.showImage !== undefined;
  }

  private get interval(): number {
    return Math.max(this.opts.intervalMs, this.sink.minEditIntervalMs ?? 0);
  }

  /** Offer the latest state; shown when the interval allows. Never blocks. */
  offer(snapshot: ImageSnapshot): void {
    if (this.closed) return;
    if (snapshot.kind === "image" && !this.showsImages) return;
    this.latest = snapshot;
    this.version++;
    this.pumping ??= this.pump().finally(() => {
      this.pumping = undefined;
    });
  }

  private async waitTurn(): Promise<void> {
    const wait = Math.max(this.lastStart + this.interval, this.retryAt) - Date.now();
    if (wait > 0) await sleep(wait);
  }

  private async pump(): Promise<void> {
    while (!this.closed && this.sentVersion < this.version) {
      await this.waitTurn();
      if (this.closed) return;
      const v = this.version;
      try {
        await this.deliver(this.latest!);
        this.sentVersion = v;
      } catch (err) {
        if (err instanceof PlatformRateLimitedError) {
          this.retryAt = Date.now() + err.retryAfterMs;
          this.opts.logger.warn({ retryAfterMs: err.retryAfterMs }, "image update rate limited; waiting");
        } else if (err instanceof ReplyGoneError) {
          this.gone = true;
          this.closed = true;
        } else if (err instanceof LockLostError) {
          this.lockLost = true;
          this.closed = true;
          this.opts.logger.warn("job lock lost; this worker stops updating the image reply");
          this.opts.onLockLost?.();
        } else {
          // A failed preview is not fatal: the next one replaces it.
          this.sentVersion = v;
          this.opts.logger.warn({ err }, "image preview update failed");
        }
      }
    }
  }

  /**
   * The final picture. Resolves "shown", or "refused" when the platform refused the upload (the
   * reply then says so in text, with `refusedNote`). Throws LockLostError when another worker
   * owns the reply, or the last error after the deadline.
   */
  async finishImage(image: ReplyImage, refusedNote: string): Promise<"shown" | "refused"> {
    if (!this.showsImages) throw new Error("this sink cannot show images");
    try {
      await this.finish({ kind: "image", image: { ...image, final: true } });
      return "shown";
    } catch (err) {
      if (!refusedUpload(err)) throw err;
      this.opts.logger.warn({ err }, "the platform refused the image upload");
      await this.finish({ kind: "text", text: image.caption, note: refusedNote });
      return "refused";
    }
  }

  /** A final text (a failure note, no picture). Throws like finishImage. */
  finishText(text: string, note?: string): Promise<void> {
    return this.finish(note === undefined ? { kind: "text", text } : { kind: "text", text, note });
  }

  /** Stop updating and show `snapshot` as not final (another worker continues the reply). Best effort. */
  async interim(snapshot: ImageSnapshot): Promise<void> {
    this.closed = true;
    await this.pumping;
    if (this.lockLost || (snapshot.kind === "image" && !this.showsImages)) return;
    try {
      await this.waitTurn();
      await this.deliver(snapshot);
    } catch (err) {
      this.opts.logger.warn({ err }, "could not show the interruption note");
    }
  }

  private async finish(snapshot: ImageSnapshot): Promise<void> {
    this.closed = true;
    await this.pumping;
    if (this.lockLost) throw new LockLostError();
    if (this.gone) return;
    const deadline = Date.now() + (this.opts.finalDeadlineMs ?? 120_000);
    let attempt = 0;
    for (;;) {
      await this.waitTurn();
      try {
        await this.deliver(snapshot, true);
        return;
      } catch (err) {
        if (err instanceof LockLostError) {
          this.lockLost = true;
          throw err;
        }
        if (err instanceof ReplyGoneError) {
          this.gone = true;
          return;
        }
        if (refusedUpload(err)) throw err;
        attempt++;
        this.retryAt =
          err instanceof PlatformRateLimitedError ? Date.now() + err.retryAfterMs : Date.now() + Math.min(250 * 2 ** attempt, 8000);
        if (this.retryAt > deadline) throw err;
        this.opts.logger.warn({ err, attempt }, "final image update failed; retrying");
      }
    }
  }

  private async deliver(snapshot: ImageSnapshot, final = false): Promise<void> {
    this.lastStart = Date.now();
    await this.opts.guard?.();
    await this.sink.acquireBudget?.(this.current);
    if (snapshot.kind === "image") {
      const moved = await this.sink.showImage!(this.current, { ...snapshot.image, final });
      this.imageShown = true;
      if (moved && moved.messageId !== this.current.messageId) {
        this.current = moved;
        await this.opts.onTarget?.(moved);
      }
    } else {
      const opts = snapshot.note === undefined ? { final, last: true } : { final, last: true, note: snapshot.note };
      await this.sink.edit(this.current, snapshot.text, opts);
    }
    this.updates++;
  }
}
