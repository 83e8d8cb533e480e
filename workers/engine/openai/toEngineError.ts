/**
 * Turns what the `openai` client, fetch or an SSE stream throws into an EngineError with a code,
 * a one-line message (no stack, no body beyond the server's own error message, never the API key)
 * and the right `retryable` flag.
 */
import { APIConnectionError, APIConnectionTimeoutError, APIError } from "openai";
import { EngineError } from "../../../src/errors.ts";

/** The innermost cause's code and message: "ECONNREFUSED connect ECONNREFUSED 127.0.0.1:8080". */
export function rootCause(err: unknown): string {
  let cur: unknown = err;
  let last = "";
  for (let depth = 0; depth < 6 && cur; depth++) {
    if (cur instanceof Error) {
      const code = (cur as { code?: unknown }).code;
      last = typeof code === "string" && !cur.message.includes(code) ? `${code} ${cur.message}` : cur.message;
      cur = (cur as { cause?: unknown }).cause;
    } else {
      last = String(cur);
      break;
    }
  }
  return last || "unknown error";
}

/** The server's error type (llama-server `exceed_context_size_error`, vLLM `NotFoundError`) and message. */
function describe(err: APIError): { type: string; message: string } {
  const body = err.error as { type?: unknown; message?: unknown } | undefined;
  const type = typeof body?.type === "string" ? body.type : (err.type ?? "");
  const message = typeof body?.message === "string" ? body.message : err.message;
  return { type, message: message.split("\n")[0]!.slice(0, 300) };
}

/**
 * @param during what was being done, for the message: "streaming a reply", "listing the models at …".
 */
export function toEngineError(err: unknown, during: string): EngineError {
  if (err instanceof EngineError) return err;
  if (err instanceof APIConnectionTimeoutError)
    return new EngineError("ENGINE_UNAVAILABLE", `the model server did not answer in time (${during})`, { cause: err });
  if (err instanceof APIConnectionError)
    return new EngineError("ENGINE_UNAVAILABLE", `the model server is unreachable (${during}): ${rootCause(err)}`, { cause: err });
  if (err instanceof APIError) {
    const status = err.status;
    const { type, message } = describe(err);
    if (status === undefined)
      // An error event inside the stream (llama-server: `data: {"error": {...}}` after some tokens).
      return new EngineError("ENGINE_STREAM_FAILED", `the model server failed mid-reply (${during}): ${message}`, { cause: err });
    if (status === 401 || status === 403)
      return new EngineError("ENGINE_AUTH_FAILED", `the model server refused the API key (HTTP ${status}; check OPENAI_API_KEY)`, {
        status,
        cause: err,
      });
    if (status === 429 || status === 503)
      return new EngineError("ENGINE_BUSY", `the model server is busy (HTTP ${status}, ${during}): ${message}`, { status, cause: err });
    if (status >= 500)
      return new EngineError("ENGINE_STREAM_FAILED", `the model server failed (HTTP ${status}, ${during}): ${message}`, {
        status,
        cause: err,
      });
    if (type === "exceed_context_size_error" || /context length|context size|maximum context|too long/i.test(message))
      return new EngineError("ENGINE_CONTEXT_EXCEEDED", `the prompt does not fit the model server's context: ${message}`, {
        status,
        cause: err,
      });
    if (status === 404 && /model/i.test(message))
      return new EngineError("ENGINE_MODEL_NOT_FOUND", `the model server does not know the model: ${message}`, { status, cause: err });
    return new EngineError("ENGINE_REQUEST_REJECTED", `the model server rejected the request (HTTP ${status}, ${during}): ${message}`, {
      status,
      cause: err,
    });
  }
  // fetch/undici failures outside the client (socket closed mid-body: "terminated"), bad JSON in a chunk.
  if (err instanceof SyntaxError)
    return new EngineError("ENGINE_STREAM_FAILED", `the model server sent a malformed chunk (${during}): ${err.message}`, { cause: err });
  return new EngineError("ENGINE_STREAM_FAILED", `the stream from the model server broke (${during}): ${rootCause(err)}`, { cause: err });
}
