/**
 * HTTP to an image engine with Node's fetch: base URL, credentials, per-call deadlines, and every
 * way a server can fail turned into an ImageEngineError that says what happened (unreachable,
 * loading/overloaded: retryable; refused credentials, an error answer, a body that is not JSON:
 * not). An abort by the caller's own signal is passed through untouched: the engine decides
 * whether that was a Stop or its timeout.
 */
import { ImageEngineError } from "../../src/errors.ts";

export interface EngineHttpOptions {
  /** Root every path is appended to, without a trailing slash. */
  baseUrl: string;
  apiKey?: string;
  /** `user:password` keys go as HTTP Basic (AUTOMATIC1111's --api-auth); others as Bearer. */
  basicAuthForPairs: boolean;
  /** Names the engine in messages: "AUTOMATIC1111 API", "OpenAI-compatible image API". */
  label: string;
}

export interface EngineRequest {
  body?: unknown;
  signal?: AbortSignal;
  /** Deadline of this one call (progress polls, interrupts, readiness checks). */
  timeoutMs?: number;
}

const DETAIL_CHARS = 300;

export class EngineHttp {
  readonly baseUrl: string;
  readonly #authorization?: string;
  readonly #label: string;

  constructor(opts: EngineHttpOptions) {
    // fetch refuses URLs with credentials (http://user:pass@host): they become the key instead.
    const url = new URL(opts.baseUrl);
    const userinfo = url.username ? decodeURIComponent(`${url.username}${url.password ? `:${url.password}` : ""}`) : undefined;
    url.username = "";
    url.password = "";
    this.baseUrl = url.toString().replace(/\/+$/, "");
    this.#label = opts.label;
    const key = opts.apiKey?.trim() || userinfo;
    if (key) {
      this.#authorization = opts.basicAuthForPairs && key.includes(":") ? `Basic ${Buffer.from(key).toString("base64")}` : `Bearer ${key}`;
    }
  }

  url(path: string): string {
    return `${this.baseUrl}${path}`;
  }

  /** Sends a request and returns the parsed JSON answer; throws ImageEngineError, or the caller's abort reason. */
  async json(method: "GET" | "POST", path: string, req: EngineRequest = {}): Promise<unknown> {
    const response = await this.send(method, path, req);
    const text = await this.#readBody(response, path, req);
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new ImageEngineError(
        "IMAGE_ENGINE_FAILED",
        `the ${this.#label} answered ${path} with something that is not JSON: ${clip(text) || "(empty)"}`,
        { status: response.status, cause: err },
      );
    }
  }

  /** Sends a request and returns the raw response once it is 2xx; throws ImageEngineError otherwise. */
  async send(method: "GET" | "POST", path: string, req: EngineRequest = {}): Promise<Response> {
    const signals = [req.signal, req.timeoutMs !== undefined ? AbortSignal.timeout(req.timeoutMs) : undefined].filter(
      (s): s is AbortSignal => s !== undefined,
    );
    const headers: Record<string, string> = { accept: "application/json" };
    if (req.body !== undefined) headers["content-type"] = "application/json";
    if (this.#authorization) headers.authorization = this.#authorization;
    let response: Response;
    try {
      response = await fetch(this.url(path), {
        method,
        headers,
        body: req.body === undefined ? undefined : JSON.stringify(req.body),
        signal: signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals),
      });
    } catch (err) {
      throw this.#transportError(err, path, req);
    }
    if (response.ok) return response;
    const text = await response.text().catch(() => "");
    throw this.#statusError(response.status, path, text);
  }

  async #readBody(response: Response, path: string, req: EngineRequest): Promise<string> {
    try {
      return await response.text();
    } catch (err) {
      throw this.#transportError(err, path, req);
    }
  }

  #transportError(err: unknown, path: string, req: EngineRequest): unknown {
    if (req.signal?.aborted) return req.signal.reason;
    if (err instanceof Error && err.name === "TimeoutError") {
      return new ImageEngineError("IMAGE_ENGINE_UNAVAILABLE", `the ${this.#label} did not answer ${path} within ${req.timeoutMs} ms`, {
        retryable: true,
        cause: err,
      });
    }
    const code = causeCode(err);
    return new ImageEngineError(
      "IMAGE_ENGINE_UNAVAILABLE",
      `cannot reach the ${this.#label} at ${new URL(this.baseUrl).origin}${code ? ` (${code})` : ""}`,
      { retryable: true, cause: err },
    );
  }

  #statusError(status: number, path: string, text: string): ImageEngineError {
    const detail = errorDetail(text);
    const said = detail ? `: ${detail}` : "";
    if (status === 401 || status === 403) {
      return new ImageEngineError(
        "IMAGE_ENGINE_FAILED",
        `the ${this.#label} refused the credentials (HTTP ${status}); check IMAGE_API_KEY${said}`,
        { status },
      );
    }
    if (status === 429 || status === 502 || status === 503 || status === 504) {
      return new ImageEngineError("IMAGE_ENGINE_UNAVAILABLE", `the ${this.#label} is busy or starting (HTTP ${status} on ${path})${said}`, {
        status,
        retryable: true,
      });
    }
    return new ImageEngineError("IMAGE_ENGINE_FAILED", `the ${this.#label} answered HTTP ${status} on ${path}${said}`, { status });
  }
}

/** The error text servers put in their bodies: AUTOMATIC1111 `{detail, errors}`, OpenAI `{error: {message}}`, sd-server `{error, message}`. */
export function errorDetail(text: string): string {
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    const error = body.error;
    const candidates = [
      typeof error === "object" && error !== null ? (error as Record<string, unknown>).message : undefined,
      body.detail,
      body.message,
      body.errors,
      error,
    ];
    for (const c of candidates) {
      if (typeof c === "string" && c.trim() !== "") return clip(c);
      if (Array.isArray(c) || (typeof c === "object" && c !== null)) return clip(JSON.stringify(c));
    }
    return "";
  } catch {
    return clip(text);
  }
}

function clip(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > DETAIL_CHARS ? `${flat.slice(0, DETAIL_CHARS)}…` : flat;
}

function causeCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}
