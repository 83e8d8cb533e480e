/**
 * Web API failures, read once: Slack's error code, whether the call surely did not happen (a 429,
 * an error Slack answered) or may have (a network drop, a timeout, a 5xx: the request can have
 * landed), and the PlatformError the ReplyStreamer understands. Never carries the request (it
 * holds the token).
 *
 * Web API client 8 (fetch, not axios): a 429 with `rejectRateLimitedCalls` is a RateLimitedError
 * with `retryAfter` in seconds; a non-200 answer is an HTTPError (`statusCode`); a refused or
 * dropped connection and the client's own `timeout` (an AbortSignal) are RequestErrors.
 */
import { webApi } from "@slack/bolt";
import { PlatformError, PlatformRateLimitedError } from "../../src/errors.ts";

interface WebApiFailure {
  code?: string;
  retryAfter?: number;
  data?: { error?: string };
  statusCode?: number;
  message?: string;
}

/** Slack's `error` of a call it answered with `ok: false`. */
export function slackError(err: unknown): string | undefined {
  return (err as WebApiFailure).data?.error;
}

export function isRateLimited(err: unknown): boolean {
  return (err as WebApiFailure).code === webApi.ErrorCode.RateLimitedError;
}

/** Retry-After of a 429, in ms (at least a second). */
export function retryAfterMs(err: unknown): number {
  return Math.max(1, (err as WebApiFailure).retryAfter ?? 1) * 1000;
}

/** A Web API failure as the ReplyStreamer understands it. */
export function toPlatformError(err: unknown, what: string): Error {
  const e = err as WebApiFailure;
  if (e.code === webApi.ErrorCode.RateLimitedError) return new PlatformRateLimitedError(retryAfterMs(err));
  if (e.code === webApi.ErrorCode.PlatformError) return new PlatformError(`${what}: Slack answered ${e.data?.error ?? "an error"}`);
  if (e.code === webApi.ErrorCode.HTTPError) return new PlatformError(`${what}: Slack answered HTTP ${e.statusCode ?? "?"}`, e.statusCode);
  return new PlatformError(`${what}: could not reach Slack (${e.message ?? String(err)})`);
}

/**
 * Errors that say the workspace (or the token) refuses a feature every time, not this call alone:
 * the method is unknown or retired there, the feature is off, the app is not an agent app, or the
 * token lacks the scope. The feature is latched off for the workspace (`SlackFeatures`).
 */
export const FEATURE_REFUSALS: ReadonlySet<string> = new Set([
  "unknown_method",
  "method_deprecated",
  "feature_not_enabled",
  "not_agent_app",
  "missing_scope",
  "not_allowed_token_type",
  "no_permission",
]);
