/**
 * Scripted faults: `failNext({ method, path }, response, times)` makes the next matching requests
 * answer a 429 (with Discord's headers and body), a 5xx, or a 4xx with a JSON error code. They are
 * checked after authentication and before rate limits and routing; recorded requests say `scripted: true`.
 *
 * Faults after commit (`failAfterCommit`) are taken only once the route has answered 2xx — the
 * write is saved (message stored and dispatched, interaction acknowledged) — and then replace the
 * answer: a 5xx, a dropped connection, or no answer (see `CommitFault`).
 */
import type { CommitFault, FailResponse } from "../types.ts";
import type { RateLimiter } from "./RateLimiter.ts";
import type { Reply } from "./Router.ts";

interface ScriptedFault {
  method: string;
  path: RegExp;
  response: FailResponse;
  remaining: number;
}

interface AfterCommitFault {
  method: string;
  path: RegExp;
  fault: CommitFault;
  remaining: number;
}

export class ScriptedFaults {
  private readonly faults: ScriptedFault[] = [];
  private readonly afterCommit: AfterCommitFault[] = [];

  addAfterCommit(match: { method: string; path: RegExp }, fault: CommitFault, times: number): void {
    this.afterCommit.push({ method: match.method.toUpperCase(), path: match.path, fault, remaining: times });
  }

  /** The after-commit fault for a request whose route answered 2xx, when one is pending (it is used up). */
  takeAfterCommit(method: string, path: string): CommitFault | undefined {
    const f = this.afterCommit.find((x) => x.remaining > 0 && x.method === method && x.path.test(path));
    if (!f) return undefined;
    f.remaining--;
    return f.fault;
  }

  add(match: { method: string; path: RegExp }, response: FailResponse, times: number): void {
    this.faults.push({ method: match.method.toUpperCase(), path: match.path, response, remaining: times });
  }

  /** The scripted answer for this request, when one is pending (it is used up). */
  take(method: string, path: string): FailResponse | undefined {
    const fault = this.faults.find((f) => f.remaining > 0 && f.method === method && f.path.test(path));
    if (!fault) return undefined;
    fault.remaining--;
    return fault.response;
  }
}

/** The reply Discord would send for a scripted fault. */
export function scriptedReply(limiter: RateLimiter, method: string, path: string, r: FailResponse): Reply {
  if (r.status === 429) {
    const global = r.global === true;
    const scope = r.scope ?? (global ? "global" : "user");
    return {
      status: 429,
      body: { message: "You are being rate limited.", retry_after: r.retryAfterSec, global, ...(global ? { code: 0 } : {}) },
      headers: {
        ...limiter.scriptedHeaders(method, path, r.retryAfterSec),
        "Retry-After": String(r.retryAfterSec),
        "X-RateLimit-Scope": scope,
        ...(global ? { "X-RateLimit-Global": "true" } : {}),
      },
    };
  }
  if ("code" in r) return { status: r.status, body: { message: r.message, code: r.code } };
  const text: Record<number, string> = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
  };
  return { status: r.status, body: { message: `${r.status}: ${text[r.status] ?? "Server Error"}`, code: 0 } };
}
