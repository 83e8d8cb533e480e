/**
 * An OpenAI-compatible engine: one `POST {base}/images/generations` per image (`n: 1`,
 * `response_format: "b64_json"`), no progress and no server-side stop — a Stop or a timeout only
 * stops waiting. The OpenAI API has no negative prompt, seed or steps; the dialect says how they
 * travel (checked against the servers' sources):
 *
 * - `sdcpp`: stable-diffusion.cpp's sd-server reads a `<sd_cpp_extra_args>{json}</sd_cpp_extra_args>`
 *   block out of the prompt (flat `seed`, `negative_prompt`, `steps`, `sample_method` in older
 *   servers; `sample_params.{sample_steps, sample_method}` in newer ones; unknown keys ignored).
 * - `localai`: LocalAI reads `step` and `seed` fields and splits the prompt at `|` into positive|negative.
 * - `plain`: nothing extra; the server's defaults apply and the seed is unknown.
 */
import { ImageEngineError } from "../../src/errors.ts";
import { decodeBase64Image, inspectImage } from "../../src/images/imageBytes.ts";
import type { Logger } from "../../src/logger.ts";
import { EngineHttp } from "./EngineHttp.ts";
import type { GenerationStop } from "./GenerationStop.ts";
import type { GeneratedImage, ImageEngine, ImageEngineCapabilities, ImageEngineReadiness, ImageGenerateRequest } from "./ImageEngine.ts";
import { RunningGenerations } from "./RunningGenerations.ts";

export type OpenAIImageDialect = "sdcpp" | "localai" | "plain";

/** sd-server's default address (`--listen-port 1234`). */
export const OPENAI_IMAGE_DEFAULT_URL = "http://127.0.0.1:1234/v1";
const CONTROL_TIMEOUT_MS = 5000;
const LABEL = "OpenAI-compatible image API";

export interface OpenAIImageEngineOptions {
  /** API base; `/v1` is added when the URL has no path. */
  baseUrl?: string;
  apiKey?: string;
  /** The `model` field; unset: not sent. */
  model?: string;
  dialect: OpenAIImageDialect;
  timeoutMs: number;
  sampler?: string;
  logger?: Logger;
}

export class OpenAIImageEngine implements ImageEngine {
  readonly kind = "openai";
  readonly capabilities: ImageEngineCapabilities = { previews: false, interrupt: false };
  readonly #http: EngineHttp;
  readonly #opts: OpenAIImageEngineOptions;
  readonly #runs = new RunningGenerations();

  constructor(opts: OpenAIImageEngineOptions) {
    this.#opts = opts;
    this.#http = new EngineHttp({
      baseUrl: openAIBase(opts.baseUrl ?? OPENAI_IMAGE_DEFAULT_URL),
      apiKey: opts.apiKey,
      basicAuthForPairs: false,
      label: LABEL,
    });
  }

  generate(req: ImageGenerateRequest): Promise<GeneratedImage> {
    return this.#runs.run({ signal: req.signal, timeoutMs: req.timeoutMs ?? this.#opts.timeoutMs, graceMs: 0 }, (stop) =>
      this.#generate(req, stop),
    );
  }

  async #generate(req: ImageGenerateRequest, stop: GenerationStop): Promise<GeneratedImage> {
    const started = Date.now();
    const body = imagesGenerationsBody(req, this.#opts);
    let answer: unknown;
    let image: { bytes: Buffer; mime: GeneratedImage["mime"]; width?: number; height?: number };
    try {
      answer = await this.#http.json("POST", "/images/generations", { body, signal: stop.controller.signal });
      image = await this.#image(answer, stop.controller.signal);
    } catch (err) {
      if (stop.reason) throw stop.error();
      throw err;
    }
    if (stop.reason) throw stop.error({ image: image.bytes, mime: image.mime });
    const told = this.#opts.dialect !== "plain";
    return {
      image: image.bytes,
      mime: image.mime,
      ...(told ? { seed: req.seed, steps: req.steps } : {}),
      width: image.width ?? req.width,
      height: image.height ?? req.height,
      elapsedMs: Date.now() - started,
    };
  }

  /** `data[0].b64_json`, or `data[0].url` fetched (servers that ignore response_format). */
  async #image(
    answer: unknown,
    signal: AbortSignal,
  ): Promise<{ bytes: Buffer; mime: GeneratedImage["mime"]; width?: number; height?: number }> {
    const data = (answer as { data?: unknown } | null)?.data;
    const item = Array.isArray(data) ? (data[0] as { b64_json?: unknown; url?: unknown } | undefined) : undefined;
    if (typeof item?.b64_json === "string") {
      const decoded = decodeBase64Image(item.b64_json);
      if (!decoded) throw new ImageEngineError("IMAGE_ENGINE_FAILED", `the ${LABEL} sent something that is not an image`);
      return { bytes: decoded.bytes, ...decoded.info };
    }
    if (typeof item?.url === "string") {
      const bytes = await this.#download(item.url, signal);
      const info = inspectImage(bytes);
      if (!info) throw new ImageEngineError("IMAGE_ENGINE_FAILED", `the ${LABEL}'s image URL did not hold an image`);
      return { bytes, ...info };
    }
    throw new ImageEngineError("IMAGE_ENGINE_FAILED", `the ${LABEL} answered without an image (no data[0].b64_json)`);
  }

  async #download(url: string, signal: AbortSignal): Promise<Buffer> {
    if (url.startsWith("data:")) {
      const decoded = decodeBase64Image(url);
      if (!decoded) throw new ImageEngineError("IMAGE_ENGINE_FAILED", `the ${LABEL} sent a data URL that is not an image`);
      return decoded.bytes;
    }
    const absolute = new URL(url, `${this.#http.baseUrl}/`);
    const base = new URL(this.#http.baseUrl);
    // Credentials go only to the engine itself; a path on the engine is fetched through it.
    if (absolute.origin !== base.origin) {
      throw new ImageEngineError(
        "IMAGE_ENGINE_FAILED",
        `the ${LABEL} answered with an image on another host (${absolute.origin}); set response_format b64_json on the server`,
      );
    }
    const relative = absolute.pathname.startsWith(base.pathname)
      ? absolute.pathname.slice(base.pathname.replace(/\/$/, "").length)
      : absolute.pathname;
    const response = await this.#http.send("GET", `${relative}${absolute.search}`, { signal });
    return Buffer.from(await response.arrayBuffer());
  }

  async interrupt(): Promise<boolean> {
    return false;
  }

  async readiness(): Promise<ImageEngineReadiness> {
    try {
      await this.#http.json("GET", "/models", { timeoutMs: CONTROL_TIMEOUT_MS });
      return { ready: true, detail: `${LABEL} at ${this.#http.baseUrl}` };
    } catch (err) {
      // A server without /models still answered: it is up.
      if (err instanceof ImageEngineError && err.status === 404)
        return { ready: true, detail: `${LABEL} at ${this.#http.baseUrl} (no /models)` };
      return { ready: false, detail: err instanceof Error ? err.message : String(err) };
    }
  }

  close(): Promise<void> {
    return this.#runs.close();
  }
}

/** The API base: as given, with `/v1` added when the URL has no path. */
export function openAIBase(url: string): string {
  const u = new URL(url);
  if (u.pathname === "" || u.pathname === "/") u.pathname = "/v1";
  return u.toString().replace(/\/+$/, "");
}

const EXTRA_ARGS_TAG = /<\/?sd_cpp_extra_args>/g;

/** The request body for `dialect`; user text can never carry its own control block or separator. */
export function imagesGenerationsBody(
  req: ImageGenerateRequest,
  opts: Pick<OpenAIImageEngineOptions, "dialect" | "model" | "sampler">,
): Record<string, unknown> {
  const body: Record<string, unknown> = { prompt: req.prompt, n: 1, size: `${req.width}x${req.height}`, response_format: "b64_json" };
  if (opts.model) body.model = opts.model;
  const negative = req.negativePrompt ?? "";
  const sampler = req.sampler ?? opts.sampler;
  if (opts.dialect === "sdcpp") {
    const extra: Record<string, unknown> = {
      seed: req.seed,
      steps: req.steps,
      sample_params: { sample_steps: req.steps, ...(sampler ? { sample_method: sampler } : {}) },
      ...(sampler ? { sample_method: sampler } : {}),
      ...(negative ? { negative_prompt: negative.replace(EXTRA_ARGS_TAG, " ") } : {}),
    };
    body.prompt = `${req.prompt.replace(EXTRA_ARGS_TAG, " ")} <sd_cpp_extra_args>${JSON.stringify(extra)}</sd_cpp_extra_args>`;
    body.output_format = "png";
  } else if (opts.dialect === "localai") {
    const positive = req.prompt.replaceAll("|", " ");
    body.prompt = negative ? `${positive}|${negative.replaceAll("|", " ")}` : positive;
    body.step = req.steps;
    body.seed = req.seed;
  }
  return body;
}
