/**
 * The stand-in's "diffusion": a deterministic picture per seed (a two-colour gradient with a few
 * discs and bars, colours and places drawn from the seed), and the picture at step k of n as that
 * image mixed with seeded noise, the noise fading to nothing at the last step — so previews
 * sharpen step by step, equal seeds give equal images, and the final image is clean.
 */
import type { RgbImage } from "./png.ts";

/** mulberry32: a tiny seeded PRNG, 0 ≤ x < 1. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The clean picture for `seed`. */
export function renderClean(seed: number, width: number, height: number): RgbImage {
  const rand = prng(seed);
  const colour = () => [rand() * 255, rand() * 255, rand() * 255] as const;
  const top = colour();
  const bottom = colour();
  const discs = Array.from({ length: 3 }, () => ({
    x: rand() * width,
    y: rand() * height,
    r: (0.1 + rand() * 0.25) * Math.min(width, height),
    c: colour(),
  }));
  const bar = { y0: rand() * height * 0.8, h: (0.05 + rand() * 0.1) * height, c: colour() };
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const t = height > 1 ? y / (height - 1) : 0;
    for (let x = 0; x < width; x++) {
      let c: readonly number[] = [top[0] * (1 - t) + bottom[0] * t, top[1] * (1 - t) + bottom[1] * t, top[2] * (1 - t) + bottom[2] * t];
      if (y >= bar.y0 && y < bar.y0 + bar.h) c = bar.c;
      for (const d of discs) if ((x - d.x) ** 2 + (y - d.y) ** 2 <= d.r ** 2) c = d.c;
      const i = (y * width + x) * 3;
      rgb[i] = c[0]!;
      rgb[i + 1] = c[1]!;
      rgb[i + 2] = c[2]!;
    }
  }
  return { width, height, rgb };
}

/** The picture at `step` of `steps`: the clean one under noise that fades linearly to none at the last step. */
export function renderStep(seed: number, width: number, height: number, step: number, steps: number): RgbImage {
  const clean = renderClean(seed, width, height);
  const signal = steps > 0 ? Math.min(1, Math.max(0, step / steps)) : 1;
  if (signal >= 1) return clean;
  const noise = prng((seed ^ Math.imul(step + 1, 0x9e3779b1)) >>> 0);
  const rgb = new Uint8Array(clean.rgb.length);
  for (let i = 0; i < rgb.length; i++) rgb[i] = Math.round(clean.rgb[i]! * signal + noise() * 255 * (1 - signal));
  return { width, height, rgb };
}
