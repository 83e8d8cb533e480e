/**
 * Helpers for tests that talk to the simulator with the real `@slack/web-api` WebClient: a client
 * pointed at it (no retries, 429s rejected unless asked otherwise), and the Slack error a failed call
 * carried, flattened for assertions.
 */
import { webApi } from "@slack/bolt";
import type { SlackSimulator } from "./SlackSimulator.ts";

export type SimWebClient = InstanceType<typeof webApi.WebClient>;

/** A logger that drops everything (the WebClient logs Slack's response_metadata messages as errors). */
const quiet = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  setLevel: () => undefined,
  getLevel: () => webApi.LogLevel.ERROR,
  setName: () => undefined,
};

/** A WebClient on the simulator: no retries, rate-limited calls rejected (override with `options`). */
export function simWebClient(sim: SlackSimulator, token = "xoxb-T1-simtoken", options: webApi.WebClientOptions = {}): SimWebClient {
  return new webApi.WebClient(token, {
    logger: quiet,
    slackApiUrl: sim.apiUrl,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    ...options,
  });
}

/** What a failed Web API call carried: the WebClient's code, Slack's error and the rest of the body, Retry-After. */
export interface PlatformError {
  code?: string;
  error?: string;
  retryAfter?: number;
  data?: Record<string, unknown>;
}

/** Awaits a call that must fail and returns its error; throws when it succeeds. */
export async function platformError(promise: Promise<unknown>): Promise<PlatformError> {
  try {
    await promise;
  } catch (e) {
    const err = e as { code?: string; data?: Record<string, unknown> & { error?: string }; retryAfter?: number };
    const out: PlatformError = {};
    if (err.code !== undefined) out.code = err.code;
    if (err.data?.error !== undefined) out.error = err.data.error;
    if (err.data !== undefined) out.data = err.data;
    if (err.retryAfter !== undefined) out.retryAfter = err.retryAfter;
    return out;
  }
  throw new Error("expected the call to fail");
}
