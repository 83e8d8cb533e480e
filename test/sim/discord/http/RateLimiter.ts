/** Per-route rate-limit buckets and the X-RateLimit-* headers Discord sends with every answer. */
import { createHash } from "node:crypto";

export interface RouteLimitOptions {
  limit: number;
  windowMs: number;
  /** only requests with this method count (default: every method) */
  method?: string;
}

interface Window {
  limit: number;
  windowMs: number;
  count: number;
  resetAt: number;
  hash: string;
}

export interface TakeResult {
  limited: boolean;
  retryAfterSec: number;
  headers: Record<string, string>;
  /** "global" when the global limit answered */
  scope: "user" | "global";
}

const ID = /^\d{5,}$/;

/** The route with ids replaced by `:id`, keeping the major parameter (channel, guild, webhook+token, interaction) literal. */
export function routeKey(path: string): { template: string; major: string } {
  const parts = path.split("/").filter(Boolean);
  let major = "global";
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    const prev = parts[i - 1];
    if ((prev === "channels" || prev === "guilds") && i === 1) {
      major = p;
      out.push(p);
    } else if ((prev === "webhooks" || prev === "interactions") && i === 1) {
      major = `${p}/${parts[i + 1] ?? ""}`;
      out.push(p, ":token");
      i++;
    } else if (ID.test(p)) {
      out.push(":id");
    } else {
      out.push(p);
    }
  }
  return { template: `/${out.join("/")}`, major };
}

function hashOf(s: string): string {
  return createHash("md5").update(s).digest("hex");
}

export class RateLimiter {
  private routeLimits: Array<{ path: RegExp; opts: RouteLimitOptions }> = [];
  private windows = new Map<string, Window>();
  private globalLimit: number | null = null;
  private globalWindow: { count: number; resetAt: number } = { count: 0, resetAt: 0 };
  /** a generous bucket for routes without an explicit limit: headers stay truthful, tests stay fast */
  private defaultLimit = { limit: 1000, windowMs: 1000 };
  /** number of 429s answered by real limits (not scripted) */
  limitedCount = 0;

  setRouteLimit(path: RegExp, opts: RouteLimitOptions): void {
    this.routeLimits = this.routeLimits.filter((r) => r.path.source !== path.source || r.opts.method !== opts.method);
    this.routeLimits.push({ path, opts });
  }

  clearRouteLimits(): void {
    this.routeLimits = [];
    this.windows.clear();
  }

  setGlobalLimit(perSecond: number | null): void {
    this.globalLimit = perSecond;
  }

  private windowFor(method: string, path: string, now: number): Window {
    const { template, major } = routeKey(path);
    const rule = this.routeLimits.find((r) => r.path.test(path) && (!r.opts.method || r.opts.method.toUpperCase() === method));
    const key = rule ? `rule:${rule.path.source}:${rule.opts.method ?? "*"}:${major}` : `${method} ${template}:${major}`;
    const hash = hashOf(rule ? `rule:${rule.path.source}:${rule.opts.method ?? "*"}` : `${method} ${template}`);
    const limits = rule ? rule.opts : this.defaultLimit;
    let w = this.windows.get(key);
    if (!w || now >= w.resetAt) {
      w = { limit: limits.limit, windowMs: limits.windowMs, count: 0, resetAt: now + limits.windowMs, hash };
      this.windows.set(key, w);
    }
    return w;
  }

  private headersOf(w: Window, remaining: number, now: number): Record<string, string> {
    const resetAfter = Math.max(0, w.resetAt - now) / 1000;
    return {
      "X-RateLimit-Limit": String(w.limit),
      "X-RateLimit-Remaining": String(Math.max(0, remaining)),
      "X-RateLimit-Reset": (w.resetAt / 1000).toFixed(3),
      "X-RateLimit-Reset-After": resetAfter.toFixed(3),
      "X-RateLimit-Bucket": w.hash,
    };
  }

  /** Counts one request against its bucket (and the global limit when set); says whether it must be answered with 429. */
  take(method: string, path: string, now = Date.now()): TakeResult {
    const w = this.windowFor(method, path, now);
    if (this.globalLimit !== null && !path.startsWith("/interactions/")) {
      if (now >= this.globalWindow.resetAt) this.globalWindow = { count: 0, resetAt: now + 1000 };
      if (this.globalWindow.count >= this.globalLimit) {
        this.limitedCount++;
        const retryAfterSec = Math.max(0.001, (this.globalWindow.resetAt - now) / 1000);
        return { limited: true, retryAfterSec, scope: "global", headers: this.headersOf(w, w.limit - w.count, now) };
      }
      this.globalWindow.count++;
    }
    if (w.count >= w.limit) {
      this.limitedCount++;
      const retryAfterSec = Math.max(0.001, (w.resetAt - now) / 1000);
      return { limited: true, retryAfterSec, scope: "user", headers: this.headersOf(w, 0, now) };
    }
    w.count++;
    return { limited: false, retryAfterSec: 0, scope: "user", headers: this.headersOf(w, w.limit - w.count, now) };
  }

  /** Headers for a scripted 429 on this route: remaining 0, reset after retry_after. */
  scriptedHeaders(method: string, path: string, retryAfterSec: number, now = Date.now()): Record<string, string> {
    const w = this.windowFor(method, path, now);
    return {
      "X-RateLimit-Limit": String(w.limit),
      "X-RateLimit-Remaining": "0",
      "X-RateLimit-Reset": ((now + retryAfterSec * 1000) / 1000).toFixed(3),
      "X-RateLimit-Reset-After": retryAfterSec.toFixed(3),
      "X-RateLimit-Bucket": w.hash,
    };
  }
}
