/**
 * `npm run status [-- --json]`: what the deployment behind REDIS_URL/REDIS_PREFIX is doing —
 * queue depth, live workers, replies in flight, inbox depths, recent throughput, the same for
 * /imagine (image queue, image inboxes, pictures made and failed), and the per-place settings with
 * their latest changes (who, what, when). Reads Redis only; exits non-zero (REDIS_UNAVAILABLE)
 * when Redis does not answer.
 */
import { loadConfig } from "../src/config.ts";
import { Keys } from "../src/keys.ts";
import { formatStatus, readStatus } from "../src/ops/readStatus.ts";
import { createChatQueue } from "../src/queue/Ingestor.ts";
import { createImageQueue } from "../src/queue/imageQueue.ts";
import { connectRedis, createRedis, redactUrl } from "../src/redisConnection.ts";
import { runMain } from "./runMain.ts";

const USAGE = "usage: npm run status [-- --json]\n";

runMain(async () => {
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(USAGE);
    return 0;
  }
  const unknown = args.filter((a) => a !== "--json");
  if (unknown.length > 0) {
    process.stderr.write(`qwenbot: unknown argument ${unknown[0]}\n${USAGE}`);
    return 2;
  }
  const config = loadConfig();
  const keys = new Keys(config.REDIS_PREFIX);
  const redis = createRedis(config.REDIS_URL, "producer");
  await connectRedis(redis, config.REDIS_URL);
  const queue = createChatQueue(redis, keys);
  const imageQueue = createImageQueue(redis, keys);
  try {
    const report = await readStatus({ redis, queue, keys, imageQueue });
    if (args.includes("--json")) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else process.stdout.write(formatStatus(report, `qwenbot status — ${redactUrl(config.REDIS_URL)} prefix ${config.REDIS_PREFIX}`));
  } finally {
    await queue.close();
    await imageQueue.close();
    redis.disconnect();
  }
  return 0;
});
