/**
 * One streamed chat completion: sends the request, reads the Server-Sent Events, reports the text
 * as it grows, and says how it ended. Stop aborts the HTTP request, which closes the connection:
 * the server sees the disconnect and stops generating.
 *
 * A 429 or 503 before the stream starts comes back as a `wait` (the caller waits and asks again);
 * every other failure is thrown as an EngineError. A stream that ends without a finish_reason
 * (connection closed), stalls longer than `timeoutMs`, carries a malformed chunk or an error event
 * is ENGINE_STREAM_FAILED (retryable).
 */
import { APIError, APIUserAbortError, type OpenAI } from "openai";
import type { ChatCompletionChunk, ChatCompletionCreateParamsStreaming } from "openai/resources/chat/completions";
import type { CompletionUsage } from "openai/resources/completions";
import { EngineError } from "../../../src/errors.ts";
import { retryAfterMs } from "./retryAfter.ts";
import { toEngineError } from "./toEngineError.ts";

/** llama-server's `timings` on the last chunk. */
export interface ServerTimings {
  cache_n?: number;
  prompt_n?: number;
  predicted_n?: number;
}

export interface StreamRequest {
  client: OpenAI;
  /** The request body; extension fields (top_k, cache_prompt) ride along. */
  body: ChatCompletionCreateParamsStreaming & Record<string, unknown>;
  timeoutMs: number;
  signal?: AbortSignal;
  onText?: (text: string) => void;
}

export type StreamOutcome =
  | {
      kind: "done";
      text: string;
      /** Content pieces received (about one per token on llama-server). */
      pieces: number;
      finishReason: string | undefined;
      aborted: boolean;
      usage: CompletionUsage | undefined;
      timings: ServerTimings | undefined;
      /** performance.now() of the first text, 0 if none. */
      firstTextAt: number;
    }
  | { kind: "wait"; status: number; retryAfterMs: number | undefined; message: string };

const now = () => performance.now();

export async function streamChat(req: StreamRequest): Promise<StreamOutcome> {
  const controller = new AbortController();
  const onAbort = () => controller.abort(req.signal?.reason);
  if (req.signal?.aborted) onAbort();
  req.signal?.addEventListener("abort", onAbort, { once: true });
  let stalled = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = true;
      controller.abort(new Error("stalled"));
    }, req.timeoutMs);
  };
  let text = "";
  let pieces = 0;
  let finishReason: string | undefined;
  let usage: CompletionUsage | undefined;
  let timings: ServerTimings | undefined;
  let firstTextAt = 0;
  const aborted = () => req.signal?.aborted === true && !stalled;
  const done = (): StreamOutcome => ({ kind: "done", text, pieces, finishReason, aborted: aborted(), usage, timings, firstTextAt });
  try {
    let stream: AsyncIterable<ChatCompletionChunk>;
    try {
      stream = await req.client.chat.completions.create(req.body, { signal: controller.signal, timeout: req.timeoutMs, maxRetries: 0 });
    } catch (err) {
      if (aborted()) return done();
      if (err instanceof APIError && (err.status === 429 || err.status === 503) && !(err instanceof APIUserAbortError)) {
        return { kind: "wait", status: err.status, retryAfterMs: retryAfterMs(err.headers), message: toEngineError(err, "").message };
      }
      throw toEngineError(err, "starting a reply");
    }
    arm();
    try {
      for await (const chunk of stream) {
        // Stopped: what arrived after the Stop (in the same read) is not part of the reply.
        if (controller.signal.aborted) break;
        arm();
        const choice = chunk.choices?.[0];
        const piece = choice?.delta?.content;
        if (typeof piece === "string" && piece.length > 0) {
          if (firstTextAt === 0) firstTextAt = now();
          text += piece;
          pieces++;
          try {
            req.onText?.(text);
          } catch {
            /* the caller's problem: never breaks a reply */
          }
        }
        if (choice?.finish_reason) finishReason = choice.finish_reason;
        if (chunk.usage) usage = chunk.usage;
        const t = (chunk as { timings?: ServerTimings }).timings;
        if (t) timings = t;
      }
    } catch (err) {
      if (aborted()) return done();
      throw toEngineError(err, `streaming a reply, after ${pieces} pieces`);
    }
    if (stalled) throw new EngineError("ENGINE_STREAM_FAILED", `the model server sent nothing for ${req.timeoutMs} ms mid-reply`);
    if (aborted()) return done();
    if (finishReason === undefined)
      throw new EngineError(
        "ENGINE_STREAM_FAILED",
        `the stream from the model server ended without finishing the reply (after ${pieces} pieces)`,
      );
    return done();
  } finally {
    clearTimeout(timer);
    req.signal?.removeEventListener("abort", onAbort);
    // Leaves nothing open: after a finished stream this is a no-op, after anything else it closes the connection.
    controller.abort();
  }
}
