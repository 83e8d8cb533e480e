/**
 * While an AUTOMATIC1111 txt2img request runs, asks `GET /sdapi/v1/progress` every interval for
 * the step and the live preview, and reports what changed. One poll at a time, each with its own
 * deadline; a server without the endpoint (404: stable-diffusion.cpp's sdapi) or one whose
 * progress keeps failing just leaves the generation without previews — the txt2img request
 * itself goes on.
 */
import { ImageEngineError, type PartialImage } from "../../src/errors.ts";
import { decodeBase64Image } from "../../src/images/imageBytes.ts";
import type { Logger } from "../../src/logger.ts";
import type { EngineHttp } from "./EngineHttp.ts";
import type { ImageProgress } from "./ImageEngine.ts";

/** Consecutive failed polls after which polling stops for this generation. */
export const MAX_PROGRESS_FAILURES = 3;

export interface ProgressPollerOptions {
  http: EngineHttp;
  intervalMs: number;
  previews: boolean;
  onProgress?: (progress: ImageProgress) => void;
  logger?: Logger;
}

/** The fields of AUTOMATIC1111's ProgressResponse this reads (modules/api/models.py). */
interface ProgressBody {
  progress?: number;
  eta_relative?: number;
  state?: { sampling_step?: number; sampling_steps?: number };
  current_image?: string | null;
}

export class A1111ProgressPoller {
  /** The newest preview received, for a stop that gets no partial image back. */
  lastPreview?: PartialImage;
  /** Polls that answered, for tests and logs. */
  polls = 0;
  #stopped = false;
  readonly #abort = new AbortController();
  readonly #opts: ProgressPollerOptions;
  #loop?: Promise<void>;
  #lastStep = -1;

  constructor(opts: ProgressPollerOptions) {
    this.#opts = opts;
  }

  start(): this {
    this.#loop = this.#run();
    return this;
  }

  /** Stops polling; resolves when no poll is in flight and no callback will follow. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { http, intervalMs, previews } = this.#opts;
    const path = `/sdapi/v1/progress?skip_current_image=${previews ? "false" : "true"}`;
    let failures = 0;
    while (!this.#stopped) {
      await delay(intervalMs, this.#abort.signal);
      if (this.#stopped) return;
      let body: unknown;
      try {
        body = await http.json("GET", path, { signal: this.#abort.signal, timeoutMs: Math.max(2000, intervalMs * 3) });
        failures = 0;
      } catch (err) {
        if (this.#stopped) return;
        const status = err instanceof ImageEngineError ? err.status : undefined;
        failures++;
        if (status === 404 || status === 405 || failures >= MAX_PROGRESS_FAILURES) {
          this.#opts.logger?.warn(
            { err, failures },
            status === 404 || status === 405
              ? "the image engine has no progress endpoint: no previews"
              : "image progress keeps failing: no more previews",
          );
          return;
        }
        continue;
      }
      this.polls++;
      this.#handle(body as ProgressBody);
    }
  }

  #handle(body: ProgressBody): void {
    if (typeof body !== "object" || body === null) return;
    const steps = body.state?.sampling_steps ?? 0;
    const step = body.state?.sampling_step ?? 0;
    // An idle server answers progress 0 (AUTOMATIC1111 and SD.Next alike, with the last job's
    // steps still in `state`); a running one at least 0.01. Nothing to show before the first step.
    if (!(steps > 0) || !(typeof body.progress === "number" && body.progress > 0)) return;
    const progress: ImageProgress = { step: Math.min(step, steps), steps, fraction: clamp01(body.progress) };
    const eta = body.eta_relative;
    if (typeof eta === "number" && Number.isFinite(eta) && eta >= 0) progress.etaMs = Math.round(eta * 1000);
    if (typeof body.current_image === "string" && body.current_image !== "") {
      const decoded = decodeBase64Image(body.current_image);
      if (decoded && !this.lastPreview?.image.equals(decoded.bytes)) {
        this.lastPreview = { image: decoded.bytes, mime: decoded.info.mime };
        progress.preview = decoded.bytes;
        progress.previewMime = decoded.info.mime;
      }
    }
    if (progress.preview === undefined && progress.step === this.#lastStep) return;
    this.#lastStep = progress.step;
    try {
      this.#opts.onProgress?.(progress);
    } catch (err) {
      this.#opts.logger?.warn({ err }, "an image progress callback threw");
    }
  }
}

function clamp01(n: number): number {
  return Number.isFinite(n) ? Math.min(1, Math.max(0, n)) : 0;
}

/** Waits `ms`, or less when `signal` aborts; never rejects. */
export function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
