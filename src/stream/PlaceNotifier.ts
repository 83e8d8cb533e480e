/**
 * Tells waiting messages that the line moved: their placeholders show "waiting — N ahead". Updates
 * are coalesced (only the newest place of each reply is sent), sent nearest first, one at a time,
 * and never dropped for a rate limit: a sink that says "not now" (PlatformRateLimitedError — the
 * Discord sink says so before the channel's edit budget is exhausted, keeping the last edits for
 * the reply that streams) is waited out and asked again. Right before sending, `stillWaiting`
 * checks that the reply still waits at that place, so a placeholder whose answer has started is
 * never overwritten with a place in line, and a newer place from another worker is never
 * replaced by an older one.
 */
import { PlatformRateLimitedError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { ChatRequest, Platform, ReplySink } from "../types.ts";

export interface PlaceNotifierOptions {
  logger: Logger;
  /** Whether `request` still waits at `place` (checked right before sending). */
  stillWaiting: (request: ChatRequest, place: number) => Promise<boolean>;
  /** Called after a place was shown (remember it). */
  shown?: (request: ChatRequest, place: number) => Promise<void>;
  /** Give up on an update not sent after this long (ms). */
  maxAgeMs?: number;
}

interface Pending {
  request: ChatRequest;
  place: number;
  since: number;
  notBefore: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class PlaceNotifier {
  private readonly pending = new Map<string, Pending>();
  private running: Promise<void> | undefined;
  private closed = false;
  /** Places shown (tests, metrics). */
  sent = 0;

  constructor(
    private readonly sinks: Partial<Record<Platform, ReplySink>>,
    private readonly opts: PlaceNotifierOptions,
  ) {}

  /** The line moved: these messages wait at these places (0, the next, is left to the worker that starts it). */
  offer(entries: ReadonlyArray<{ place: number; request: ChatRequest }>): void {
    if (this.closed) return;
    const now = Date.now();
    for (const { place, request } of entries) {
      if (place < 1 || !this.sinks[request.reply.platform]?.queued) continue;
      const old = this.pending.get(request.requestId);
      this.pending.set(request.requestId, { request, place, since: old?.since ?? now, notBefore: old?.notBefore ?? 0 });
    }
    if (this.pending.size > 0) this.running ??= this.run().finally(() => (this.running = undefined));
  }

  /** Stop sending; what is pending is dropped. */
  async close(): Promise<void> {
    this.closed = true;
    this.pending.clear();
    await this.running;
  }

  /** Wait until nothing is pending (tests). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private next(): Pending | undefined {
    let best: Pending | undefined;
    for (const p of this.pending.values()) if (!best || p.place < best.place) best = p;
    return best;
  }

  private async run(): Promise<void> {
    const maxAge = this.opts.maxAgeMs ?? 120_000;
    for (let p = this.next(); p && !this.closed; p = this.next()) {
      const wait = p.notBefore - Date.now();
      if (wait > 0) await sleep(Math.min(wait, 1000));
      if (wait > 1000 || this.pending.get(p.request.requestId) !== p) continue; // re-pick: newer or nearer updates may have come
      const { request, place } = p;
      const done = () => {
        if (this.pending.get(request.requestId) === p) this.pending.delete(request.requestId);
      };
      if (Date.now() - p.since > maxAge) {
        this.opts.logger.debug({ requestId: request.requestId }, "place in line not shown in time; dropped");
        done();
        continue;
      }
      try {
        if (await this.opts.stillWaiting(request, place)) {
          await this.sinks[request.reply.platform]!.queued!(request.reply, place);
          this.sent++;
          await this.opts.shown?.(request, place);
        }
        done();
      } catch (err) {
        if (err instanceof PlatformRateLimitedError) {
          // Not dropped: asked again once the budget allows, with whatever place is newest then.
          p.notBefore = Date.now() + err.retryAfterMs;
        } else {
          this.opts.logger.debug({ err, requestId: request.requestId }, "could not show the place in line");
          done();
        }
      }
    }
  }
}
