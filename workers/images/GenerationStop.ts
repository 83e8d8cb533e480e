/**
 * The three ways a generation ends early — the caller's signal (Stop), the engine's deadline, the
 * engine closing (shutdown) — in one place: which came first, the hook that asks the server to
 * stop, the abort of the HTTP request after a grace period (so an interrupted AUTOMATIC1111 can
 * still send its partial image back), and the error each one becomes.
 */
import { ImageEngineError, type PartialImage } from "../../src/errors.ts";

export type StopReason = "signal" | "timeout" | "closed";

export interface GenerationStopOptions {
  signal?: AbortSignal;
  timeoutMs: number;
  /** How long the request may still run after the stop, to hand back a partial image (0: abort at once). */
  graceMs: number;
  /** Called once, at the stop (e.g. POST /sdapi/v1/interrupt); must not throw. */
  onStop?: (reason: StopReason) => void;
}

export class GenerationStop {
  /** Aborts the generation's HTTP request: at the stop plus the grace period. */
  readonly controller = new AbortController();
  #reason?: StopReason;
  readonly #opts: GenerationStopOptions;
  readonly #timer: NodeJS.Timeout;
  #graceTimer?: NodeJS.Timeout;
  readonly #onAbort = () => this.stop("signal");

  constructor(opts: GenerationStopOptions) {
    this.#opts = opts;
    this.#timer = setTimeout(() => this.stop("timeout"), opts.timeoutMs);
    if (opts.signal?.aborted) this.stop("signal");
    else opts.signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  get reason(): StopReason | undefined {
    return this.#reason;
  }

  stop(reason: StopReason): void {
    if (this.#reason) return;
    this.#reason = reason;
    clearTimeout(this.#timer);
    this.#opts.onStop?.(reason);
    if (this.#opts.graceMs <= 0) this.controller.abort(new Error(`generation stopped (${reason})`));
    else this.#graceTimer = setTimeout(() => this.controller.abort(new Error(`generation stopped (${reason})`)), this.#opts.graceMs);
  }

  /** The error for the stop that happened, with what the engine had made so far. */
  error(partial?: PartialImage): ImageEngineError {
    const opts = partial ? { partial } : {};
    switch (this.#reason) {
      case "timeout":
        return new ImageEngineError(
          "IMAGE_TIMEOUT",
          `no image after ${Math.round(this.#opts.timeoutMs / 1000)} s; the generation was stopped`,
          opts,
        );
      case "closed":
        return new ImageEngineError("IMAGE_INTERRUPTED", "the image engine was closed (the worker is shutting down)", {
          ...opts,
          retryable: true,
        });
      default:
        return new ImageEngineError("IMAGE_INTERRUPTED", "the generation was stopped", opts);
    }
  }

  dispose(): void {
    clearTimeout(this.#timer);
    if (this.#graceTimer) clearTimeout(this.#graceTimer);
    this.#opts.signal?.removeEventListener("abort", this.#onAbort);
  }
}
