/**
 * What the Web API answers besides the methods themselves: scripted failures (`failNext`: a 429
 * with Retry-After, an HTTP error status, `{ ok: false, error }`, a hang, each optionally after the
 * method ran — "committed, then failed") and per-method rate limits
 * (`setMethodLimit`: a sliding window per workspace, or per workspace and channel).
 */
import type { FailSpec, MethodLimit } from "../types.ts";
import { SlidingWindowLimiter } from "./SlidingWindowLimiter.ts";

interface PendingFailure {
  method: string;
  spec: FailSpec;
  remaining: number;
  teamId?: string;
}

export interface ActiveLimit {
  limiter: SlidingWindowLimiter;
  per: "team" | "channel";
}

export class CallFaults {
  private readonly failures: PendingFailure[] = [];
  private readonly limits = new Map<string, ActiveLimit>();

  failNext(method: string, spec: FailSpec, times: number, teamId: string | undefined): void {
    const failure: PendingFailure = { method, spec, remaining: times };
    if (teamId !== undefined) failure.teamId = teamId;
    this.failures.push(failure);
  }

  /** The scripted failure for this call, when one is pending (it is used up). */
  take(method: string, teamId: string | undefined): FailSpec | undefined {
    const index = this.failures.findIndex((f) => f.method === method && f.remaining > 0 && (f.teamId === undefined || f.teamId === teamId));
    if (index < 0) return undefined;
    const failure = this.failures[index];
    if (!failure) return undefined;
    failure.remaining -= 1;
    if (failure.remaining <= 0) this.failures.splice(index, 1);
    return failure.spec;
  }

  setMethodLimit(method: string, limit: MethodLimit): void {
    const windowMs = limit.perMinute !== undefined ? 60_000 : (limit.windowMs ?? 60_000);
    const count = limit.perMinute ?? limit.limit;
    if (count === undefined || count < 1) throw new Error("setMethodLimit needs perMinute or limit ≥ 1");
    this.limits.set(method, { limiter: new SlidingWindowLimiter(count, windowMs), per: limit.per ?? "team" });
  }

  clearMethodLimit(method: string): void {
    this.limits.delete(method);
  }

  limitFor(method: string): ActiveLimit | undefined {
    return this.limits.get(method);
  }
}
