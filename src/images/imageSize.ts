/**
 * Image sizes as people and engines write them: `768x512` (width × height). One parser for the
 * configuration (IMAGE_SIZES, IMAGE_DEFAULT_SIZE) and for what users type, so both agree.
 */
import { z } from "zod";

export interface ImageSize {
  width: number;
  height: number;
}

/** Engines (latent diffusion) work in multiples of 8 pixels; nothing sensible is smaller or much larger. */
export const MIN_IMAGE_SIDE = 64;
export const MAX_IMAGE_SIDE = 2048;
export const IMAGE_SIDE_MULTIPLE = 8;

const SIZE = /^\s*(\d{1,5})\s*[x×*]\s*(\d{1,5})\s*$/i;

/** `"768x512"` (also `768X512`, `768×512`, `768*512`) → `{width: 768, height: 512}`; undefined when it is not a size. */
export function parseImageSize(text: string): ImageSize | undefined {
  const m = SIZE.exec(text);
  if (!m) return undefined;
  return { width: Number(m[1]), height: Number(m[2]) };
}

/** Why a size cannot be generated at all (outside 64–2048 or not a multiple of 8), or undefined when it can. */
export function imageSizeProblem(size: ImageSize): string | undefined {
  for (const side of [size.width, size.height]) {
    if (side < MIN_IMAGE_SIDE || side > MAX_IMAGE_SIDE) return `each side must be ${MIN_IMAGE_SIDE}–${MAX_IMAGE_SIDE} pixels`;
    if (side % IMAGE_SIDE_MULTIPLE !== 0) return `each side must be a multiple of ${IMAGE_SIDE_MULTIPLE} pixels`;
  }
  return undefined;
}

export function formatImageSize(size: ImageSize): string {
  return `${size.width}x${size.height}`;
}

export function sameImageSize(a: ImageSize, b: ImageSize): boolean {
  return a.width === b.width && a.height === b.height;
}

/** A size setting (src/config.ts): `WIDTHxHEIGHT` that engines can generate, normalized to `768x512`. */
export const imageSizeSetting = z
  .string()
  .trim()
  .transform((v, ctx) => {
    const size = parseImageSize(v);
    const problem = size ? imageSizeProblem(size) : "must be WIDTHxHEIGHT, e.g. 512x512";
    if (problem || !size) {
      ctx.addIssue({ code: "custom", message: size ? `${v}: ${problem}` : problem! });
      return z.NEVER;
    }
    return formatImageSize(size);
  });
