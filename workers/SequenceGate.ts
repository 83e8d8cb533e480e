/**
 * The model's sequences as a gate: a worker takes more jobs than it has sequences, so that a reply
 * whose generation ended can deliver its last edits (waiting for the platform's rate budget) while
 * the next reply already generates. Generation waits here for a free sequence, first come first
 * served; a sequence is handed back the moment generation ends, not when the reply is delivered.
 */
export class SequenceGate {
  private free: number;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly size: number) {
    if (size < 1) throw new Error("a gate needs at least one sequence");
    this.free = size;
  }

  /** Replies waiting for a sequence right now. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Sequences generating right now. */
  get busy(): number {
    return this.size - this.free;
  }

  /** Take a sequence if one is free at once (nobody waiting before). */
  tryAcquire(): boolean {
    if (this.free === 0 || this.waiters.length > 0) return false;
    this.free--;
    return true;
  }

  /** Take a sequence, waiting in line for one. */
  acquire(): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Hand a sequence back (to the first in line, if any). */
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else if (this.free < this.size) this.free++;
  }

  /**
   * Run `fn` holding a sequence, handed back as soon as it settles. When none is free at once,
   * `onWait` runs first (say so), then the caller waits in line. Undefined: `signal` was aborted
   * by the time a sequence was free (`fn` is not run). `fn` learns whether it had to wait.
   */
  async hold<T>(signal: AbortSignal, onWait: () => Promise<void>, fn: (waited: boolean) => Promise<T>): Promise<T | undefined> {
    const waited = !this.tryAcquire();
    if (waited) {
      await onWait().catch(() => undefined);
      await this.acquire();
    }
    try {
      return signal.aborted ? undefined : await fn(waited);
    } finally {
      this.release();
    }
  }
}
