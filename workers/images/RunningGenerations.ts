/**
 * The generations an engine has in flight, so that close() can stop them all (they reject
 * IMAGE_INTERRUPTED, retryable: another worker can redo them) and wait until they have settled,
 * and so that nothing starts on a closed engine.
 */
import { ImageEngineError } from "../../src/errors.ts";
import { GenerationStop, type GenerationStopOptions } from "./GenerationStop.ts";

export class RunningGenerations {
  #closed = false;
  readonly #runs = new Map<GenerationStop, Promise<unknown>>();

  get closed(): boolean {
    return this.#closed;
  }

  get size(): number {
    return this.#runs.size;
  }

  /** Runs `body` with a stop of its own; the stop is disposed when it settles. */
  run<T>(opts: GenerationStopOptions, body: (stop: GenerationStop) => Promise<T>): Promise<T> {
    if (this.#closed)
      return Promise.reject(new ImageEngineError("IMAGE_ENGINE_UNAVAILABLE", "the image engine is closed", { retryable: true }));
    // Stopped before it started: nothing was sent, so there is nothing to interrupt on the server.
    if (opts.signal?.aborted) return Promise.reject(new ImageEngineError("IMAGE_INTERRUPTED", "the generation was stopped"));
    const stop = new GenerationStop(opts);
    const promise = (async () => {
      try {
        return await body(stop);
      } finally {
        stop.dispose();
        this.#runs.delete(stop);
      }
    })();
    this.#runs.set(stop, promise);
    return promise;
  }

  /** Stops every run and waits for all of them to settle. */
  async close(): Promise<void> {
    this.#closed = true;
    const runs = [...this.#runs];
    for (const [stop] of runs) stop.stop("closed");
    await Promise.allSettled(runs.map(([, p]) => p));
  }
}
