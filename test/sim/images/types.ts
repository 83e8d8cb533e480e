/** Shapes the image-engine stand-in records and takes. */

export type SimRoute = "txt2img" | "progress" | "interrupt" | "sd-models" | "generations" | "models" | "files";

export interface SimRequest {
  route: SimRoute | "unknown";
  method: string;
  /** Path with query string. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  /** The parsed JSON body (undefined when none or not JSON). */
  body?: unknown;
  at: number;
}

/** A fault for the next matching request(s). */
export type SimFault =
  | { status: number; body?: unknown }
  /** 200 with a body that is not JSON. */
  | { badJson: true }
  /** The connection is destroyed without an answer. */
  | { reset: true }
  /** Never answered (until the stand-in stops). */
  | { hang: true };

export interface SimGeneration {
  api: "a1111" | "openai";
  prompt: string;
  negativePrompt: string;
  width: number;
  height: number;
  steps: number;
  seed: number;
  sampler?: string;
  model?: string;
  /** Steps done so far. */
  step: number;
  status: "queued" | "running" | "done" | "interrupted" | "abandoned";
}

export interface ImageEngineSimOptions {
  /** Time per denoising step (slowness). Default 5 ms. */
  stepDelayMs?: number;
  /** A preview is made every N steps (AUTOMATIC1111's "show_progress_every_n_steps"). Default 1. */
  previewEvery?: number;
  /** Generations pause at this step until interrupted (a generation that never finishes). */
  stallAtStep?: number;
  /** After this many progress polls (counted from when it is set), progress fails with `progressFault`. */
  progressFailAfter?: number;
  progressFault?: SimFault;
  /** Credentials required on every route: `Authorization` must equal one of these. */
  authorization?: string[];
  /** OpenAI route answers `data[0].url` (served at /v1/files/…) instead of `b64_json`. */
  openaiUrlResponses?: boolean;
}
