/**
 * What the user sees while and when a reply's engine fails, and what happens to the job.
 *
 * - A retryable EngineError (server unreachable, 5xx, stream broken mid-reply, busy past the
 *   wait limit): the placeholder says a retry is coming, nothing is committed, and the error is
 *   thrown so BullMQ retries the job by the same rules as a worker crash (jobOptionsFor: attempts
 *   and exponential backoff); the retry edits the same placeholder. After the last attempt the
 *   sweeper's failure note closes it (ReplySweeper.failForGood).
 * - Anything else (a non-retryable EngineError, a local model error): the failure note is shown
 *   and the message leaves the line without an answer.
 */
import { EngineError } from "../src/errors.ts";
import type { Logger } from "../src/logger.ts";
import type { ReplyStreamer } from "../src/stream/ReplyStreamer.ts";
import type { EngineWait } from "./engine/Engine.ts";
import { FAILURE_NOTE } from "./ReplySweeper.ts";

/** On the placeholder while a failed reply waits for its retry. */
export const RETRY_NOTE = "the model server failed — retrying shortly…";

/** On the placeholder while the engine waits out a 429/503: "the model server is busy — retrying in 3 s". */
export function waitNote(wait: EngineWait): string {
  return `${wait.reason} — retrying in ${Math.max(1, Math.ceil(wait.retryInMs / 1000))} s`;
}

export function isRetryable(err: unknown): err is EngineError {
  return err instanceof EngineError && err.retryable;
}

export interface FailureContext {
  log: Logger;
  streamer: ReplyStreamer;
  /** The reply's text when it failed (shown again above the retry note). */
  partialText: string;
  deliver: (text: string, note: string | undefined) => Promise<boolean>;
  commitFailed: (state: "done" | "failed") => Promise<unknown>;
  failure: (code: string, err: unknown) => void;
}

/** Handles a failed generation; throws (to retry the job) when the failure is retryable. */
export async function replyFailed(err: unknown, ctx: FailureContext): Promise<void> {
  const { log } = ctx;
  if (isRetryable(err)) {
    // The job's `failed` event counts it (once) and logs the attempt.
    log.warn({ code: err.code, status: err.status }, `${err.message}; the reply will be retried`);
    await ctx.streamer.interim(ctx.partialText, RETRY_NOTE);
    throw err;
  }
  if (err instanceof EngineError) log.error({ code: err.code, status: err.status }, `generation failed: ${err.message}`);
  else log.error({ err }, "generation failed");
  ctx.failure(err instanceof EngineError ? err.code : "GENERATION_FAILED", err);
  const shown = await ctx.deliver("", FAILURE_NOTE).catch((e: unknown) => log.error({ err: e }, "could not deliver the failure note"));
  if (shown !== false) await ctx.commitFailed(shown ? "done" : "failed");
}
