/**
 * A reply sink that notes when each reply's first text and its final edit arrive, then hands the
 * edit on to the real sink (the local Redis stream sink in the benchmark).
 */
import type { EditOptions, ReplySink, ReplyTarget } from "../../src/types.ts";
import { nowMs } from "./stats.ts";

export interface ReplyTimes {
  firstTextAt?: number;
  finalAt?: number;
  edits: number;
}

export class CountingSink implements ReplySink {
  readonly times = new Map<string, ReplyTimes>();

  constructor(private readonly inner: ReplySink) {}

  get maxLength(): number {
    return this.inner.maxLength;
  }

  get minEditIntervalMs(): number | undefined {
    return this.inner.minEditIntervalMs;
  }

  private entry(messageId: string): ReplyTimes {
    let t = this.times.get(messageId);
    if (!t) {
      t = { edits: 0 };
      this.times.set(messageId, t);
    }
    return t;
  }

  async edit(target: ReplyTarget, text: string, opts: EditOptions): Promise<void> {
    const at = nowMs();
    const t = this.entry(target.messageId);
    t.edits++;
    if (t.firstTextAt === undefined && text.length > 0) t.firstTextAt = at;
    await this.inner.edit(target, text, opts);
    if (opts.final) t.finalAt = nowMs();
  }

  post(after: ReplyTarget, text: string, opts?: EditOptions): Promise<ReplyTarget> {
    return this.inner.post(after, text, opts);
  }
}
