/**
 * Which Redis the test run uses: the configured one when it answers; otherwise a private
 * redis-server when the binary is installed (said in one line); otherwise one line saying how to
 * get Redis. Separate from the global setup so that its choices are tested with fakes.
 */
import { redactUrl } from "../../src/redisConnection.ts";
import { INSTALL_REDIS_HINT } from "../../tools/chaos/RedisServerProcess.ts";

export interface TestRedisChoice {
  url: string;
  /** The line to print (a private server was started), if any. */
  note?: string;
  /** Stop what was started (nothing when an existing Redis is used). */
  stop: () => Promise<void>;
}

export interface TestRedisDeps {
  answers: (url: string) => Promise<boolean>;
  installed: () => boolean;
  startPrivate: () => Promise<{ url: string; port: number; close: () => Promise<void> }>;
}

export class NoRedisForTestsError extends Error {
  override name = "NoRedisForTestsError";
}

export async function chooseTestRedis(wanted: string, deps: TestRedisDeps): Promise<TestRedisChoice> {
  if (await deps.answers(wanted)) return { url: wanted, stop: async () => {} };
  const shown = redactUrl(wanted)
    .replace(/^redis:\/\//, "")
    .replace(/\/$/, "");
  if (!deps.installed())
    throw new NoRedisForTestsError(`no Redis on ${shown} and no redis-server binary to start one: ${INSTALL_REDIS_HINT}`);
  const server = await deps.startPrivate();
  return {
    url: server.url,
    note: `no Redis on ${shown}: started a private redis-server on port ${server.port} for the tests`,
    stop: () => server.close(),
  };
}
