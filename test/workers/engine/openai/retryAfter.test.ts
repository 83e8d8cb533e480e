/** Retry-After as servers send it: seconds, an HTTP date, OpenAI's retry-after-ms; and a wait a Stop cuts short. */
import { describe, expect, it } from "vitest";
import { retryAfterMs, sleep } from "../../../../workers/engine/openai/retryAfter.ts";

describe("retryAfterMs", () => {
  it("reads seconds, an HTTP date and retry-after-ms (which wins)", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryAfterMs(new Headers({ "retry-after": "3" }), now)).toBe(3000);
    expect(retryAfterMs(new Headers({ "retry-after": "Thu, 01 Jan 2026 00:00:05 GMT" }), now)).toBe(5000);
    expect(retryAfterMs(new Headers({ "retry-after": "Wed, 31 Dec 2025 23:59:00 GMT" }), now)).toBe(0);
    expect(retryAfterMs(new Headers({ "retry-after": "3", "retry-after-ms": "250" }), now)).toBe(250);
  });

  it("is undefined without a usable header", () => {
    expect(retryAfterMs(undefined)).toBeUndefined();
    expect(retryAfterMs(new Headers())).toBeUndefined();
    expect(retryAfterMs(new Headers({ "retry-after": "soon" }))).toBeUndefined();
  });
});

describe("sleep", () => {
  it("ends early, with false, when the signal aborts", async () => {
    const stop = new AbortController();
    const waiting = sleep(60_000, stop.signal);
    stop.abort();
    expect(await waiting).toBe(false);
    expect(await sleep(1)).toBe(true);
  });
});
