/**
 * What an /imagine request may ask for, checked in one place for every surface (Discord options,
 * Slack `key:value` text, the terminal's flags): the prompt, the negative prompt, the size, the
 * steps and the seed. A refusal is an ImageOptionRejectedError whose message names the allowed
 * range, so each platform shows the same words. Pure: no I/O, the random seed is injectable.
 */
import { randomInt } from "node:crypto";
import type { Config } from "../config.ts";
import { ImageOptionRejectedError } from "../errors.ts";
import { normalizeUserText } from "../text/normalizeUserText.ts";
import { formatImageSize, type ImageSize, parseImageSize, sameImageSize } from "./imageSize.ts";

/** Seeds are unsigned 32-bit: what every engine accepts and what people copy back. */
export const MAX_SEED = 4_294_967_295;

export interface ImagineLimits {
  sizes: readonly ImageSize[];
  defaultSize: ImageSize;
  defaultSteps: number;
  maxSteps: number;
  maxPromptChars: number;
}

/** What a user typed or picked; every field optional but the prompt, values as typed. */
export interface ImagineInput {
  prompt?: string;
  negativePrompt?: string;
  size?: string;
  steps?: string | number;
  /** A number, or `random` / `-1` for a new one. */
  seed?: string | number;
}

/** A request every engine can run: all values checked and resolved (defaults applied, seed drawn). */
export interface ImagineOptions {
  prompt: string;
  /** "" when none. */
  negativePrompt: string;
  width: number;
  height: number;
  steps: number;
  seed: number;
  /** The seed was drawn here, not given: Regenerate draws another. */
  seedWasRandom: boolean;
}

export function imagineLimits(
  config: Pick<Config, "IMAGE_SIZES" | "IMAGE_DEFAULT_SIZE" | "IMAGE_DEFAULT_STEPS" | "IMAGE_MAX_STEPS" | "IMAGE_MAX_PROMPT_CHARS">,
): ImagineLimits {
  return {
    sizes: config.IMAGE_SIZES.map((s) => parseImageSize(s)!),
    defaultSize: parseImageSize(config.IMAGE_DEFAULT_SIZE)!,
    defaultSteps: config.IMAGE_DEFAULT_STEPS,
    maxSteps: config.IMAGE_MAX_STEPS,
    maxPromptChars: config.IMAGE_MAX_PROMPT_CHARS,
  };
}

/** A new seed, 0 to MAX_SEED. */
export function randomSeed(): number {
  return randomInt(0, MAX_SEED + 1);
}

/** The allowed sizes as a user reads them: `512x512, 768x512 or 1024x1024`. */
export function describeSizes(sizes: readonly ImageSize[]): string {
  const names = sizes.map(formatImageSize);
  return names.length <= 1 ? (names[0] ?? "") : `${names.slice(0, -1).join(", ")} or ${names.at(-1)}`;
}

/**
 * Checks `input` against `limits` and resolves defaults. Throws ImageOptionRejectedError: an empty
 * prompt (EMPTY_MESSAGE), a prompt or negative prompt over the limit (MESSAGE_TOO_LONG), a size not
 * offered, steps or a seed out of range (IMAGE_OPTION_INVALID).
 */
export function validateImagine(input: ImagineInput, limits: ImagineLimits, drawSeed: () => number = randomSeed): ImagineOptions {
  const prompt = normalizeUserText(input.prompt ?? "");
  if (prompt === "") {
    throw new ImageOptionRejectedError("EMPTY_MESSAGE", "prompt", "Describe the image you want, e.g. `/imagine a lighthouse at dawn`.");
  }
  checkLength("prompt", "The prompt", prompt, limits.maxPromptChars);
  const negativePrompt = normalizeUserText(input.negativePrompt ?? "");
  checkLength("negativePrompt", "The negative prompt", negativePrompt, limits.maxPromptChars);
  const size = resolveSize(input.size, limits);
  const steps = resolveSteps(input.steps, limits);
  const given = resolveSeed(input.seed);
  return {
    prompt,
    negativePrompt,
    width: size.width,
    height: size.height,
    steps,
    seed: given ?? drawSeed(),
    seedWasRandom: given === undefined,
  };
}

function checkLength(field: "prompt" | "negativePrompt", label: string, text: string, max: number): void {
  const length = [...text].length;
  if (length > max) {
    throw new ImageOptionRejectedError("MESSAGE_TOO_LONG", field, `${label} is ${length} characters long; the most is ${max}.`);
  }
}

const isBlank = (v: string | number | undefined): v is undefined => v === undefined || (typeof v === "string" && v.trim() === "");

function resolveSize(text: string | undefined, limits: ImagineLimits): ImageSize {
  if (isBlank(text)) return limits.defaultSize;
  const choices = `choose ${describeSizes(limits.sizes)}`;
  const size = parseImageSize(text);
  if (!size) throw new ImageOptionRejectedError("IMAGE_OPTION_INVALID", "size", `Size "${text.trim()}" is not WIDTHxHEIGHT: ${choices}.`);
  if (!limits.sizes.some((s) => sameImageSize(s, size))) {
    throw new ImageOptionRejectedError("IMAGE_OPTION_INVALID", "size", `Size ${formatImageSize(size)} is not available: ${choices}.`);
  }
  return size;
}

/** A whole number written plainly (`30`, `+30`, ` 30 `), or undefined. */
function wholeNumber(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isSafeInteger(value) ? value : undefined;
  const t = value.trim();
  return /^[+-]?\d{1,16}$/.test(t) ? Number(t) : undefined;
}

function resolveSteps(value: string | number | undefined, limits: ImagineLimits): number {
  if (isBlank(value)) return limits.defaultSteps;
  const steps = wholeNumber(value);
  if (steps === undefined || steps < 1 || steps > limits.maxSteps) {
    const shown = typeof value === "string" ? `"${value.trim()}"` : String(value);
    throw new ImageOptionRejectedError(
      "IMAGE_OPTION_INVALID",
      "steps",
      `Steps must be a whole number from 1 to ${limits.maxSteps}; got ${shown}.`,
    );
  }
  return steps;
}

/** The seed given, or undefined for a random one (none, `random`, `-1`). */
function resolveSeed(value: string | number | undefined): number | undefined {
  if (isBlank(value)) return undefined;
  if (typeof value === "string" && /^\s*(random|rand|any)\s*$/i.test(value)) return undefined;
  const seed = wholeNumber(value);
  if (seed === -1) return undefined;
  if (seed === undefined || seed < 0 || seed > MAX_SEED) {
    const shown = typeof value === "string" ? `"${value.trim()}"` : String(value);
    throw new ImageOptionRejectedError(
      "IMAGE_OPTION_INVALID",
      "seed",
      `Seed must be a whole number from 0 to ${MAX_SEED}, or "random"; got ${shown}.`,
    );
  }
  return seed;
}
