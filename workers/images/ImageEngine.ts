/**
 * The one interface the image side of the bot talks to, whatever server makes the pictures:
 * AUTOMATIC1111-compatible (A1111, Forge, SD.Next: progress with previews, interrupt) or
 * OpenAI-compatible (`/v1/images/generations`: stable-diffusion.cpp's sd-server, LocalAI: one
 * request, no previews). Requests arrive validated (src/images/imagineOptions.ts).
 *
 * Progress: the engine polls the server every `previewIntervalMs` and calls `onProgress` when the
 * step or the preview changed; a preview is included only when it is new. The caller decides what
 * to show and how often (its edit scheduler), and may ask for no preview bytes at all.
 *
 * Failures reject with ImageEngineError (src/errors.ts): IMAGE_ENGINE_NOT_CONFIGURED,
 * IMAGE_ENGINE_UNAVAILABLE (retryable: down, loading, overloaded), IMAGE_ENGINE_FAILED (the engine
 * answered an error or garbage), IMAGE_TIMEOUT (past `timeoutMs`; the engine is interrupted where
 * it can be), IMAGE_INTERRUPTED (the request's signal fired, or the engine was closed: then
 * retryable). A stopped or timed-out generation carries `partial`: the engine's half-denoised
 * image when it sent one back, else the last preview seen.
 */
import type { ImageMime } from "../../src/images/imageBytes.ts";

export type { ImageMime } from "../../src/images/imageBytes.ts";

export type ImageEngineKind = "a1111" | "openai" | "none";

export interface ImageGenerateRequest {
  prompt: string;
  /** "" or undefined: none. */
  negativePrompt?: string;
  width: number;
  height: number;
  steps: number;
  /** 0 to 4294967295; draw one before calling (src/images/imagineOptions.ts) so the reply can show it. */
  seed: number;
  /** Engine-specific sampler name; undefined: the engine's configured or default one. */
  sampler?: string;
  /** Stop: the engine is interrupted (where it can be) and the call rejects with IMAGE_INTERRUPTED. */
  signal?: AbortSignal;
  /** Called from the engine's polling loop, never after the call settles. Errors thrown here are ignored. */
  onProgress?: (progress: ImageProgress) => void;
  /** false: poll steps only, no preview bytes (cheaper). Default true. */
  previews?: boolean;
  /** Overrides the engine's timeout for this call. */
  timeoutMs?: number;
}

export interface ImageProgress {
  /** Denoising step the engine is at, 0 to `steps`. */
  step: number;
  steps: number;
  /** 0–1 as the engine reports it (covers more than sampling, e.g. a hires pass). */
  fraction: number;
  /** The engine's estimate of the time left. */
  etaMs?: number;
  /** The current preview, only when it differs from the last one delivered. */
  preview?: Buffer;
  previewMime?: ImageMime;
}

export interface GeneratedImage {
  image: Buffer;
  /** Usually image/png; AUTOMATIC1111 answers in its configured samples format. */
  mime: ImageMime;
  /** The seed used; undefined when the engine cannot be told one (OpenAI dialect `plain`). */
  seed?: number;
  /** Steps run; undefined when the engine cannot be told (dialect `plain`). */
  steps?: number;
  width: number;
  height: number;
  elapsedMs: number;
  /** The engine's own description (AUTOMATIC1111's `info` object: sampler, cfg_scale, model…). */
  info?: Record<string, unknown>;
}

export interface ImageEngineReadiness {
  ready: boolean;
  /** One line for operators: what answered, or why not. */
  detail: string;
}

export interface ImageEngineCapabilities {
  /** Steps and preview images while it works. */
  previews: boolean;
  /** A running generation can be stopped on the server (others only stop waiting). */
  interrupt: boolean;
}

export interface ImageEngine {
  readonly kind: ImageEngineKind;
  readonly capabilities: ImageEngineCapabilities;
  generate(request: ImageGenerateRequest): Promise<GeneratedImage>;
  /**
   * Asks the server to stop what it is running now, whoever asked for it; true when the server
   * took the request. Prefer a request's `signal`, which stops that generation only.
   */
  interrupt(): Promise<boolean>;
  /** Whether the engine answers now (for /readyz and `npm run status`); never throws. */
  readiness(): Promise<ImageEngineReadiness>;
  /** Stops every running generation (they reject IMAGE_INTERRUPTED, retryable) and refuses new ones. */
  close(): Promise<void>;
}
