/**
 * Lets every running generation of one context ask for its next token at the same moment, so
 * node-llama-cpp puts all of them in one batch.
 *
 * Why: node-llama-cpp dispatches a batch on the next event-loop turn after the first sequence
 * queues a token. Sequences driven independently (one `for await` each) come back from sampling
 * at slightly different times, so a batch leaves one of them out and lists the others in whatever
 * order they came back. llama.cpp keeps one KV stream per sequence (node-llama-cpp creates the
 * context with a non-unified KV cache) and then splits a batch into micro-batches of *consecutive,
 * ascending* sequence ids (`split_equal(…, sequential)`): a batch with a gap or out of order is
 * decoded as 2–5 micro-batches, each a full pass over the weights. Measured on 2 cores with the
 * Qwen2-0.5B-shaped Q8_0 model: a 7-token batch split that way took 170 ms, an ordered 8-token
 * batch 80 ms — that is the "half of llama.cpp's batched throughput" the bare loop loses.
 *
 * A generation here waits at the barrier after handling its token; when every member is waiting,
 * all are released in one `setImmediate` callback (after node-llama-cpp's dispatch loop of the
 * previous batch has ended), in ascending `order` (the sequence index), and all their `next()`
 * calls queue within that turn in that order: one batch, one micro-batch per step (when the
 * running sequences are consecutive, which SequencePool's slot choice aims for).
 */
export class StepBarrier {
  private members = 0;
  private waiting: Array<{ order: number; resolve: () => void }> = [];
  private scheduled = false;

  /** Generations currently taking part. */
  get size(): number {
    return this.members;
  }

  /** A generation starts taking part (call before its first `wait`). */
  join(): void {
    this.members++;
  }

  /** A generation is done (call exactly once per `join`, also on errors). */
  leave(): void {
    this.members = Math.max(0, this.members - 1);
    this.maybeRelease();
  }

  /**
   * Resolves when every member is waiting (when this is the only member, on the next turn).
   * Members are released in ascending `order`.
   */
  wait(order = 0): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push({ order, resolve });
      this.maybeRelease();
    });
  }

  private maybeRelease(): void {
    if (this.scheduled || this.waiting.length === 0 || this.waiting.length < this.members) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const released = this.waiting.sort((a, b) => a.order - b.order);
      this.waiting = [];
      for (const w of released) w.resolve();
    });
  }
}
