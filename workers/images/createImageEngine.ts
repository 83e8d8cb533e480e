/**
 * The image engine the configuration asks for (IMAGE_ENGINE), built from the IMAGE_* settings;
 * `none` gives an engine that refuses every request with a message saying how to set one up, so
 * /imagine can stay registered and tell users (and operators) what is missing.
 */
import type { Config } from "../../src/config.ts";
import { ImageEngineError } from "../../src/errors.ts";
import { IMAGE_ENGINE_NOT_CONFIGURED_MESSAGE } from "../../src/images/imagineText.ts";
import type { Logger } from "../../src/logger.ts";
import { A1111Engine } from "./A1111Engine.ts";
import type { GeneratedImage, ImageEngine, ImageEngineCapabilities, ImageEngineReadiness } from "./ImageEngine.ts";
import { OpenAIImageEngine } from "./OpenAIImageEngine.ts";

export type ImageEngineConfig = Pick<
  Config,
  | "IMAGE_ENGINE"
  | "IMAGE_API_URL"
  | "IMAGE_API_KEY"
  | "IMAGE_MODEL"
  | "IMAGE_OPENAI_DIALECT"
  | "IMAGE_SAMPLER"
  | "IMAGE_TIMEOUT_MS"
  | "IMAGE_PREVIEW_INTERVAL_MS"
>;

export function createImageEngine(config: ImageEngineConfig, opts: { logger?: Logger } = {}): ImageEngine {
  const common = {
    baseUrl: config.IMAGE_API_URL,
    apiKey: config.IMAGE_API_KEY,
    sampler: config.IMAGE_SAMPLER,
    timeoutMs: config.IMAGE_TIMEOUT_MS,
    logger: opts.logger,
  };
  switch (config.IMAGE_ENGINE) {
    case "a1111":
      return new A1111Engine({ ...common, previewIntervalMs: config.IMAGE_PREVIEW_INTERVAL_MS });
    case "openai":
      return new OpenAIImageEngine({ ...common, model: config.IMAGE_MODEL, dialect: config.IMAGE_OPENAI_DIALECT });
    default:
      return new DisabledImageEngine();
  }
}

/** What a user (and the operator reading the logs) is told when no engine is configured (core: the intake says it too). */
export { IMAGE_ENGINE_NOT_CONFIGURED_MESSAGE };

/** IMAGE_ENGINE=none: every request is refused with IMAGE_ENGINE_NOT_CONFIGURED. */
export class DisabledImageEngine implements ImageEngine {
  readonly kind = "none";
  readonly capabilities: ImageEngineCapabilities = { previews: false, interrupt: false };

  async generate(): Promise<GeneratedImage> {
    throw new ImageEngineError("IMAGE_ENGINE_NOT_CONFIGURED", IMAGE_ENGINE_NOT_CONFIGURED_MESSAGE);
  }

  async interrupt(): Promise<boolean> {
    return false;
  }

  async readiness(): Promise<ImageEngineReadiness> {
    return { ready: false, detail: "no image engine configured (IMAGE_ENGINE=none)" };
  }

  async close(): Promise<void> {}
}
