/** Small helpers shared by every part of the Discord simulator (JSON objects, copies, polling). */
import type { Json } from "./types.ts";

export function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A deep copy through JSON, so recordings handed to tests never alias the simulator's state. */
export function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `predicate` every 10 ms until it returns something truthy; resolves with it, or rejects after `timeoutMs`. */
export async function waitFor<T>(predicate: () => T | Promise<T>, timeoutMs = 5000, what = "condition"): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await predicate();
    if (v) return v as NonNullable<T>;
    if (Date.now() >= deadline) throw new Error(`DiscordSimulator.waitFor: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}
