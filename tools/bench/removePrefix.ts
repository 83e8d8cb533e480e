/** Remove every Redis key under `prefix` (a benchmark's own REDIS_PREFIX), on a connection of its own. */
import { createRedis } from "../../src/redisConnection.ts";

export async function removePrefix(url: string, prefix: string): Promise<void> {
  const cleaner = createRedis(url, "worker");
  try {
    let cursor = "0";
    do {
      const [next, batch] = await cleaner.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      if (batch.length > 0) await cleaner.del(...batch);
    } while (cursor !== "0");
  } finally {
    cleaner.disconnect();
  }
}
