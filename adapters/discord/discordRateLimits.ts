/**
 * Discord's rate limits, shared by the adapter's REST client and every worker's (separate
 * processes, one bot token): each client records what Discord's answers say of a bucket
 * (`X-RateLimit-Remaining`, `-Reset-After`; a 429's `Retry-After`, `X-RateLimit-Global`) in Redis
 * (SharedRateLimits), and consults it before sending, so a 429 one of them learned of is not run
 * into by the other. discord.js keeps the same state per process; this carries it across.
 *
 * A bucket is the route as discord.js groups it (method and route with ids as `:id`) plus its major
 * parameter (the channel): placeholders and follow-ups of one channel share one, edits another.
 */
import type { REST } from "discord.js";
import type { SharedRateLimits } from "../../src/stream/SharedRateLimits.ts";

const GLOBAL = "discord:global";

/**
 * The shared bucket of a request: `discord:<METHOD> <route>:<major>`, grouped as discord.js groups
 * its queues (ids as `:id`, the channel, guild or webhook id kept as the major parameter).
 */
export function discordBucket(method: string, path: string): string {
  const route = path.split("?")[0]!;
  // Never a webhook's token: an interaction's token does not belong in a Redis key.
  const major = /^\/(?:channels|guilds|webhooks)\/(\d{17,20})/.exec(route);
  const bucketRoute = route
    .replaceAll(/\d{17,20}/g, ":id")
    .replace(/\/reactions\/(.*)/, "/reactions/:reaction")
    .replace(/\/webhooks\/:id\/[^/?]+/, "/webhooks/:id/:token");
  return `discord:${method.toUpperCase()} ${bucketRoute}:${major?.[1] ?? "global"}`;
}

type HeadersLike = { get(name: string): string | null } | Record<string, string | string[] | undefined>;

function header(headers: HeadersLike | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as { get?: unknown }).get === "function")
    return (headers as { get(n: string): string | null }).get(name) ?? undefined;
  const v = (headers as Record<string, string | string[] | undefined>)[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

export class DiscordRateLimits {
  constructor(private readonly shared: SharedRateLimits) {}

  /** Record what every answer to `rest` says of its bucket. */
  attach(rest: REST): void {
    rest.on("response", (request, response) => {
      void this.record(request.method, request.path, response.status, response.headers as HeadersLike);
    });
  }

  /** What one answer said: requests left and the reset of its bucket, a 429's wait. */
  async record(method: string, path: string, status: number, headers: HeadersLike | undefined, now = Date.now()): Promise<void> {
    const bucket = discordBucket(method, path);
    const remaining = header(headers, "X-RateLimit-Remaining");
    const resetAfter = header(headers, "X-RateLimit-Reset-After");
    if (remaining !== undefined && resetAfter !== undefined) {
      await this.shared.note(bucket, Number(remaining), now + Math.ceil(Number(resetAfter) * 1000));
    }
    if (status === 429) {
      const retryAfter = Number(header(headers, "Retry-After") ?? resetAfter ?? 1);
      const until = now + Math.ceil(retryAfter * 1000);
      await this.shared.block(header(headers, "X-RateLimit-Global") ? GLOBAL : bucket, until);
    }
  }

  /**
   * How long to wait before this request (0: send now): a block another client learned of, or a
   * window with no more than `reserve` requests left (kept for more urgent writes).
   */
  async waitMs(method: string, path: string, reserve = 0): Promise<number> {
    const [bucket, global] = await Promise.all([this.shared.waitMs(discordBucket(method, path), reserve), this.shared.waitMs(GLOBAL)]);
    return Math.max(bucket, global);
  }
}
