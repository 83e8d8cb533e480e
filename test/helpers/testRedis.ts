/**
 * The Redis URL every test uses, chosen once per run by the global setup (redisGlobalSetup.ts):
 * REDIS_URL or 127.0.0.1:6379 when it answers, otherwise a private redis-server it started.
 * Tests and the processes they spawn get it from here, never from a hard-coded address.
 */
import { inject } from "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

export function testRedisUrl(): string {
  const url = inject("redisUrl");
  if (!url) throw new Error("no test Redis URL: run the tests through vitest (vitest.config.ts sets up Redis in its globalSetup)");
  return url;
}
