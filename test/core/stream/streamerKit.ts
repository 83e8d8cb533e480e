/** What the ReplyStreamer tests share: a scriptable fake sink on fake timers, and helpers. */
import { vi } from "vitest";
import { createLogger } from "../../../src/logger.ts";
import { ReplyStreamer, type ReplyStreamerOptions } from "../../../src/stream/ReplyStreamer.ts";
import type { EditOptions, ReplySink, ReplyTarget } from "../../../src/types.ts";

export const T0 = 1_000_000;
export const INTERVAL = 1000;
export const logger = createLogger({ level: "silent" });

export interface Call {
  kind: "edit" | "post";
  /** Milliseconds after T0 when the call started. */
  at: number;
  /** The message edited, or the one posted after. */
  messageId: string;
  text: string;
  opts: EditOptions | undefined;
  ok: boolean;
}

/** What the next call does: throw this error, or take this long (ms) before it succeeds. */
export type Step = Error | number;

export class FakeSink implements ReplySink {
  readonly calls: Call[] = [];
  /** Outcomes of the next calls, in order; a call with no step left succeeds at once. */
  readonly script: Step[] = [];
  /** Every call fails with this, when set. */
  failAlways: Error | undefined;
  inFlight = 0;
  maxInFlight = 0;
  /** Every `opts.attempt` seen (recorded apart: `calls` keep the rest of the options). */
  readonly attempts = new Set<string | undefined>();
  private posted = 0;

  constructor(
    readonly maxLength = Number.POSITIVE_INFINITY,
    readonly minEditIntervalMs?: number,
  ) {}

  async edit(target: ReplyTarget, text: string, opts: EditOptions): Promise<void> {
    await this.call("edit", target, text, opts);
  }

  async post(after: ReplyTarget, text: string, opts?: EditOptions): Promise<ReplyTarget> {
    await this.call("post", after, text, opts);
    return { ...after, messageId: `f${++this.posted}` };
  }

  /** The successful calls, as [ms after T0, message, text]. */
  landed(): Array<[number, string, string]> {
    return this.calls.filter((c) => c.ok).map((c) => [c.at, c.messageId, c.text]);
  }

  private async call(kind: Call["kind"], target: ReplyTarget, text: string, opts: EditOptions | undefined): Promise<void> {
    this.attempts.add(opts?.attempt);
    let rest: EditOptions | undefined;
    if (opts) {
      const { attempt: _attempt, ...others } = opts;
      rest = others;
    }
    const call: Call = { kind, at: Date.now() - T0, messageId: target.messageId, text, opts: rest, ok: false };
    this.calls.push(call);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const step = this.failAlways ?? this.script.shift();
      if (step instanceof Error) throw step;
      if (step) await new Promise((r) => setTimeout(r, step));
      call.ok = true;
    } finally {
      this.inFlight--;
    }
  }
}

export const target = (messageId: string): ReplyTarget => ({ platform: "discord", channelId: "c", messageId });

export function streamerFor(sink: ReplySink, opts: Partial<ReplyStreamerOptions> = {}, messages = [target("m0")]): ReplyStreamer {
  return new ReplyStreamer(sink, messages, { intervalMs: INTERVAL, logger, ...opts });
}

/** Move the fake clock to `ms` after T0, running every timer and promise due on the way. */
export async function at(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(T0 + ms - Date.now());
}
