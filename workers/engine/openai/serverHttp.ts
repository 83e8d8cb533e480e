/**
 * Plain JSON requests to an OpenAI-compatible server's own endpoints, which the `openai` client
 * does not model: llama-server's and vLLM's `/tokenize`, llama-server's `/props` and
 * `/apply-template` (all at the server root, beside `/v1`). Also where a base URL is made safe to log.
 */

export interface ServerHttp {
  /** The server root: the base URL without its trailing `/v1`. */
  readonly root: string;
  readonly headers: Record<string, string>;
  readonly timeoutMs: number;
}

export function serverHttp(baseURL: string, apiKey: string | undefined, timeoutMs: number): ServerHttp {
  const root = baseURL.replace(/\/+$/, "").replace(/\/v1$/, "");
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  return { root, headers, timeoutMs };
}

/** The URL without user name, password, query or fragment: what logs and readiness show. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, "")}`;
  } catch {
    return "(invalid URL)";
  }
}

/** The answer of a request that reached the server: its status and JSON body (undefined when not JSON). */
export interface JsonAnswer {
  status: number;
  body: unknown;
}

/** GET or POST `path` under the root. Rejects only when the server could not be reached (or timed out). */
export async function requestJson(http: ServerHttp, path: string, body?: unknown, signal?: AbortSignal): Promise<JsonAnswer> {
  const timeout = AbortSignal.timeout(http.timeoutMs);
  const res = await fetch(`${http.root}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: http.headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed };
}

/** `obj.a.b…` when every step is an object, else undefined. */
export function pick(obj: unknown, ...path: string[]): unknown {
  let cur = obj;
  for (const key of path) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

export function positiveInt(v: unknown): number | undefined {
  return typeof v === "number" && Number.isInteger(v) && v > 0 ? v : undefined;
}
