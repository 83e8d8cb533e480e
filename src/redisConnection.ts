/**
 * Redis connections. Two kinds, as BullMQ wants them:
 * - "worker": blocking commands, retries forever (`maxRetriesPerRequest: null`), reconnects by itself;
 * - "producer": fails fast when Redis is down, so ingest can tell the user to try again.
 */
import { Redis, type RedisOptions } from "ioredis";
import { RedisUnavailableError } from "./errors.ts";

export type ConnectionRole = "worker" | "producer";

export function createRedis(url: string, role: ConnectionRole, extra: RedisOptions = {}): Redis {
  const base: RedisOptions =
    role === "worker"
      ? { maxRetriesPerRequest: null, enableReadyCheck: true, retryStrategy: (n) => Math.min(200 * n, 2000) }
      : {
          maxRetriesPerRequest: 1,
          enableOfflineQueue: false,
          connectTimeout: 3000,
          retryStrategy: (n) => Math.min(200 * n, 2000),
        };
  const redis = new Redis(url, { lazyConnect: true, ...base, ...extra });
  // Errors surface through commands; without a listener ioredis would print them raw.
  redis.on("error", () => {});
  return redis;
}

/** Connect and PING within `timeoutMs`, or throw RedisUnavailableError naming the URL (sans password). */
export async function connectRedis(redis: Redis, url: string, timeoutMs = 4000): Promise<void> {
  const shown = redactUrl(url);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      (async () => {
        if (redis.status === "wait") await redis.connect();
        await redis.ping();
      })(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    redis.disconnect();
    const reason = err instanceof Error ? err.message : String(err);
    throw new RedisUnavailableError(`Redis at ${shown} is unreachable (${reason}). Is it running? Set REDIS_URL to point elsewhere.`, {
      cause: err,
    });
  } finally {
    clearTimeout(timer);
  }
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(invalid url)";
  }
}
