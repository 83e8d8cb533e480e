/** Shared by the image engine tests: awaiting a rejection as an ImageEngineError, and reading previews. */
import { expect } from "vitest";
import { ImageEngineError } from "../../../src/errors.ts";
import type { ImageProgress } from "../../../workers/images/ImageEngine.ts";

export async function engineError(promise: Promise<unknown>): Promise<ImageEngineError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, "expected the call to reject").toBeInstanceOf(ImageEngineError);
  return err as ImageEngineError;
}

/** Collects progress reports. */
export function progressLog(): { reports: ImageProgress[]; onProgress: (p: ImageProgress) => void } {
  const reports: ImageProgress[] = [];
  return { reports, onProgress: (p) => reports.push(p) };
}

/** Resolves once `predicate` holds (checked every 5 ms); rejects after `limitMs` so a broken test ends. */
export async function until(predicate: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
