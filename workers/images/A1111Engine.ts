/**
 * An AUTOMATIC1111-compatible engine (AUTOMATIC1111, Forge, SD.Next; stable-diffusion.cpp's sdapi
 * without progress): one `POST /sdapi/v1/txt2img` per image, `GET /sdapi/v1/progress` polled
 * alongside for the step and the live preview, `POST /sdapi/v1/interrupt` on Stop, timeout and
 * shutdown — after which txt2img answers with the half-denoised image, handed back as `partial`.
 *
 * The server runs one job at a time for every client: progress and interrupt concern whatever it
 * is running, so give the bot an engine of its own (docs/images.md).
 */
import { ImageEngineError } from "../../src/errors.ts";
import { decodeBase64Image } from "../../src/images/imageBytes.ts";
import type { Logger } from "../../src/logger.ts";
import { A1111ProgressPoller } from "./A1111ProgressPoller.ts";
import { EngineHttp } from "./EngineHttp.ts";
import type { GenerationStop } from "./GenerationStop.ts";
import type { GeneratedImage, ImageEngine, ImageEngineCapabilities, ImageEngineReadiness, ImageGenerateRequest } from "./ImageEngine.ts";
import { RunningGenerations } from "./RunningGenerations.ts";

export const A1111_DEFAULT_URL = "http://127.0.0.1:7860";
/** After an interrupt, how long txt2img may take to answer with the partial image. */
export const A1111_INTERRUPT_GRACE_MS = 10_000;
const CONTROL_TIMEOUT_MS = 5000;
const LABEL = "AUTOMATIC1111 API";

export interface A1111EngineOptions {
  /** The web UI's address (a trailing `/sdapi/v1` is ignored). */
  baseUrl?: string;
  /** `user:password` (--api-auth) or a Bearer token for a proxy. */
  apiKey?: string;
  timeoutMs: number;
  previewIntervalMs: number;
  /** `sampler_name` for every request that names none. */
  sampler?: string;
  interruptGraceMs?: number;
  logger?: Logger;
}

/** The fields of AUTOMATIC1111's TextToImageResponse this reads: `info` is a JSON string (Processed.js()). */
interface TextToImageBody {
  images?: unknown;
  info?: unknown;
}

export class A1111Engine implements ImageEngine {
  readonly kind = "a1111";
  readonly capabilities: ImageEngineCapabilities = { previews: true, interrupt: true };
  readonly #http: EngineHttp;
  readonly #opts: A1111EngineOptions;
  readonly #runs = new RunningGenerations();

  constructor(opts: A1111EngineOptions) {
    this.#opts = opts;
    const base = (opts.baseUrl ?? A1111_DEFAULT_URL).replace(/\/+$/, "").replace(/\/sdapi\/v1$/, "");
    this.#http = new EngineHttp({ baseUrl: base, apiKey: opts.apiKey, basicAuthForPairs: true, label: LABEL });
  }

  generate(req: ImageGenerateRequest): Promise<GeneratedImage> {
    return this.#runs.run(
      {
        signal: req.signal,
        timeoutMs: req.timeoutMs ?? this.#opts.timeoutMs,
        graceMs: this.#opts.interruptGraceMs ?? A1111_INTERRUPT_GRACE_MS,
        onStop: () => void this.interrupt(),
      },
      (stop) => this.#generate(req, stop),
    );
  }

  async #generate(req: ImageGenerateRequest, stop: GenerationStop): Promise<GeneratedImage> {
    const started = Date.now();
    const poller = new A1111ProgressPoller({
      http: this.#http,
      intervalMs: this.#opts.previewIntervalMs,
      previews: req.previews !== false,
      onProgress: req.onProgress,
      logger: this.#opts.logger,
    }).start();
    let body: TextToImageBody;
    try {
      body = (await this.#http.json("POST", "/sdapi/v1/txt2img", {
        body: txt2imgBody(req, this.#opts.sampler),
        signal: stop.controller.signal,
      })) as TextToImageBody;
    } catch (err) {
      await poller.stop();
      if (stop.reason) throw stop.error(poller.lastPreview);
      throw err;
    }
    await poller.stop();
    const first = Array.isArray(body?.images) ? body.images[0] : undefined;
    const decoded = typeof first === "string" ? decodeBase64Image(first) : undefined;
    if (stop.reason) throw stop.error(decoded ? { image: decoded.bytes, mime: decoded.info.mime } : poller.lastPreview);
    if (!decoded) {
      throw new ImageEngineError(
        "IMAGE_ENGINE_FAILED",
        typeof first === "string" ? `the ${LABEL} sent something that is not an image` : `the ${LABEL} answered without an image`,
      );
    }
    const info = parseInfo(body.info);
    return {
      image: decoded.bytes,
      mime: decoded.info.mime,
      seed: typeof info?.seed === "number" ? info.seed : req.seed,
      steps: typeof info?.steps === "number" ? info.steps : req.steps,
      width: decoded.info.width ?? req.width,
      height: decoded.info.height ?? req.height,
      elapsedMs: Date.now() - started,
      ...(info ? { info } : {}),
    };
  }

  async interrupt(): Promise<boolean> {
    try {
      await this.#http.send("POST", "/sdapi/v1/interrupt", { timeoutMs: CONTROL_TIMEOUT_MS });
      return true;
    } catch (err) {
      this.#opts.logger?.warn({ err }, "the image engine did not take the interrupt");
      return false;
    }
  }

  async readiness(): Promise<ImageEngineReadiness> {
    try {
      const models = await this.#http.json("GET", "/sdapi/v1/sd-models", { timeoutMs: CONTROL_TIMEOUT_MS });
      const count = Array.isArray(models) ? models.length : 0;
      return { ready: true, detail: `${LABEL} at ${this.#http.baseUrl}: ${count} model${count === 1 ? "" : "s"}` };
    } catch (err) {
      return { ready: false, detail: err instanceof Error ? err.message : String(err) };
    }
  }

  close(): Promise<void> {
    return this.#runs.close();
  }
}

/** The txt2img request (StableDiffusionProcessingTxt2Img fields): one image, sent back, not saved on the server. */
export function txt2imgBody(req: ImageGenerateRequest, defaultSampler?: string): Record<string, unknown> {
  const sampler = req.sampler ?? defaultSampler;
  return {
    prompt: req.prompt,
    negative_prompt: req.negativePrompt ?? "",
    width: req.width,
    height: req.height,
    steps: req.steps,
    seed: req.seed,
    ...(sampler ? { sampler_name: sampler } : {}),
    batch_size: 1,
    n_iter: 1,
    send_images: true,
    save_images: false,
  };
}

function parseInfo(info: unknown): Record<string, unknown> | undefined {
  if (typeof info === "object" && info !== null && !Array.isArray(info)) return info as Record<string, unknown>;
  if (typeof info !== "string" || info.trim() === "") return undefined;
  try {
    const parsed = JSON.parse(info) as unknown;
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
