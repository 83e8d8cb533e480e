/**
 * The words of an /imagine reply, the same on every surface: the progress line while the engine
 * works, the caption under the picture (prompt, size, steps, seed), the notes when it ends early,
 * and the memory turns that let a later question refer to the picture. Pure: no I/O.
 */
import type { ImageMime } from "./imageBytes.ts";
import { imageExtension } from "./imageBytes.ts";
import type { ImagineOptions } from "./imagineOptions.ts";

/** What a user (and the operator reading the logs) is told when no engine is configured. */
export const IMAGE_ENGINE_NOT_CONFIGURED_MESSAGE =
  "Image generation is not set up on this bot yet. The operator can point it at a Stable Diffusion server: IMAGE_ENGINE=a1111 (AUTOMATIC1111, Forge or SD.Next started with --api) or IMAGE_ENGINE=openai (stable-diffusion.cpp's sd-server, LocalAI), with IMAGE_API_URL — see docs/images.md.";

/** Longest prompt quoted in a caption or a progress line (the whole prompt is in the alt text and memory). */
export const CAPTION_PROMPT_CHARS = 300;
/** Longest alt text (Discord attachment descriptions and Slack alt texts stay under their limits). */
export const ALT_TEXT_CHARS = 1000;

/** What was made, as the engine reports it (it may not know the seed or the steps: OpenAI dialect `plain`). */
export interface MadeImage {
  width: number;
  height: number;
  steps?: number;
  seed?: number;
}

export const IMAGINE_TEXT = {
  /** Before the first progress report (and the whole time with engines that report none). */
  working: (elapsedSeconds: number): string =>
    elapsedSeconds < 1 ? "Generating the image…" : `Generating the image… ${Math.floor(elapsedSeconds)} s`,
  step: (step: number, steps: number): string => `Generating the image… step ${step}/${steps}`,
  retrying: (waitSeconds: number, attempt: number, attempts: number): string =>
    `The image engine is not answering — trying again in ${Math.round(waitSeconds)} s (attempt ${attempt} of ${attempts})…`,
  stoppedEarly: "Stopped before it started.",
  /** The user's Stop: shown with the last preview, or alone when there was none. */
  stopped: (step: number | undefined, steps: number): string => (step ? `stopped at step ${step}/${steps}` : "stopped"),
  timedOut: (seconds: number): string => `No image after ${Math.round(seconds)} s: the generation was stopped. Please try again.`,
  unavailable:
    "The image engine is not reachable right now (it may be down or still loading its model). Please try again in a few minutes.",
  failed: "The image engine could not make this picture (it answered with an error). Please try again, perhaps with a different prompt.",
  somethingWrong: "Sorry — something went wrong while making the image. Please try again.",
  /** The picture exists but the platform refused the upload (too large, type not allowed). */
  uploadRefused: "The picture was made, but this platform refused the upload (probably too large for it).",
  noImagesHere: "the picture was made, but this surface cannot show images",
  interrupted: "interrupted by a worker restart — resuming shortly…",
  malformed: "This image request could not be read. Please send it again.",
  regenerateGone: "That picture is too old to make again — please send the /imagine again.",
} as const;

/** At most `max` characters of `text`, cut at a word where it can be, with an ellipsis. */
export function shorten(text: string, max: number): string {
  const chars = [...text];
  if (chars.length <= max) return text;
  const cut = chars.slice(0, max - 1).join("");
  const space = cut.lastIndexOf(" ");
  return `${space > max * 0.6 ? cut.slice(0, space) : cut}…`;
}

/** `512×512 · 20 steps · seed 42` (what the engine did not say is left out). */
export function describeMade(made: MadeImage): string {
  const parts = [`${made.width}×${made.height}`];
  if (made.steps !== undefined) parts.push(`${made.steps} step${made.steps === 1 ? "" : "s"}`);
  parts.push(made.seed !== undefined ? `seed ${made.seed}` : "seed unknown");
  return parts.join(" · ");
}

/** The caption under the finished picture: the prompt, then size, steps and seed (and the negative prompt). */
export function resultCaption(opts: ImagineOptions, made: MadeImage, stoppedNote?: string): string {
  const lines = [shorten(opts.prompt, CAPTION_PROMPT_CHARS)];
  if (opts.negativePrompt) lines.push(`not: ${shorten(opts.negativePrompt, CAPTION_PROMPT_CHARS)}`);
  lines.push(stoppedNote ? `${stoppedNote} · ${describeMade(made)}` : describeMade(made));
  return lines.join("\n");
}

/** The file name of an upload: `imagine-42.png`, `preview-12.png`. */
export function imageFilename(kind: "result" | "preview", mime: ImageMime, n: number | undefined): string {
  const base = kind === "result" ? `imagine-${n ?? "image"}` : `preview-${n ?? 0}`;
  return `${base}.${imageExtension(mime)}`;
}

export function altText(opts: ImagineOptions): string {
  return shorten(opts.prompt, ALT_TEXT_CHARS);
}

/** The user turn memory keeps for an /imagine: the command as a person would have typed it. */
export function imagineUserTurn(opts: ImagineOptions): string {
  return opts.negativePrompt ? `/imagine ${opts.prompt} (not: ${opts.negativePrompt})` : `/imagine ${opts.prompt}`;
}

/**
 * The assistant turn memory keeps for a picture, so a later question can refer to it:
 * `[image: 512×512, seed 42, 20 steps] a cat on the moon`.
 */
export function imagineAssistantTurn(opts: ImagineOptions, made: MadeImage, stopped?: { step?: number; steps: number }): string {
  const facts = [`${made.width}×${made.height}`];
  if (made.seed !== undefined) facts.push(`seed ${made.seed}`);
  if (stopped) facts.push(stopped.step ? `stopped at step ${stopped.step} of ${stopped.steps}` : "stopped before the first step");
  else if (made.steps !== undefined) facts.push(`${made.steps} steps`);
  return `[image: ${facts.join(", ")}] ${opts.prompt}`;
}
