/**
 * `npm start`: the adapters whose credentials are configured, plus a worker in the same process
 * (set EXTERNAL_WORKERS=true to run workers separately with `npm run worker`). With no platform
 * configured it explains how to configure one and points to `npm run chat`.
 */
import { loadConfig } from "../src/config.ts";
import type { AdapterDeps, RunningAdapter } from "../src/intake/AdapterDeps.ts";
import { Keys } from "../src/keys.ts";
import { loggerFromConfig } from "../src/logger.ts";
import { ConversationMemory } from "../src/memory/ConversationMemory.ts";
import { startOps } from "../src/ops/startOps.ts";
import { createChatQueue, Ingestor, ingestOptionsFrom } from "../src/queue/Ingestor.ts";
import { connectRedis, createRedis } from "../src/redisConnection.ts";
import { runMain } from "./runMain.ts";
import { platformSinks } from "./wiring/platformSinks.ts";
import { startPlatformAdapters } from "./wiring/startPlatformAdapters.ts";
import { type RunningWorker, startWorker } from "./wiring/startWorker.ts";

const HOW_TO = `qwenbot: no chat platform is configured.

  Discord: set DISCORD_TOKEN (README, "Discord").
  Slack:   set SLACK_BOT_TOKEN plus SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode) (README, "Slack").

To talk to the bot in this terminal right now:  npm run chat
`;

runMain(async () => {
  const config = loadConfig();
  if (!config.DISCORD_TOKEN && !config.SLACK_BOT_TOKEN) {
    process.stdout.write(HOW_TO);
    return 0;
  }
  const logger = loggerFromConfig(config);
  // /healthz, /readyz and /metrics on METRICS_PORT (when set).
  const ops = await startOps({ config, logger });
  let adapters: RunningAdapter[] | undefined;
  let worker: RunningWorker | undefined;
  let stopping = false;
  ops?.addCheck("platforms", () => {
    if (stopping) return "shutting down";
    if (!adapters) return "starting";
    if (adapters.length === 0) return "no platform adapter started";
    const down = adapters.filter((a) => !a.ready()).map((a) => `${a.platform} not connected`);
    return down.length > 0 ? down.join(", ") : undefined;
  });
  if (!config.EXTERNAL_WORKERS) ops?.addCheck("model", () => (worker ? undefined : "loading the model"));
  const keys = new Keys(config.REDIS_PREFIX);
  const redis = createRedis(config.REDIS_URL, "producer");
  await connectRedis(redis, config.REDIS_URL);
  const queue = createChatQueue(redis, keys);
  const ingestor = new Ingestor(redis, queue, keys, ingestOptionsFrom(config, { rateLimit: true }));
  const deps: AdapterDeps = {
    config,
    logger,
    redis,
    keys,
    ingestor: ops ? ops.metrics.instrumentIngestor(ingestor) : ingestor,
    memory: new ConversationMemory(redis, keys, config.MEMORY_TTL_SECONDS),
  };
  if (!config.EXTERNAL_WORKERS) {
    worker = await startWorker({
      config,
      logger,
      sinks: await platformSinks(config, logger, redis, keys),
      progress: process.stderr.isTTY === true,
      metrics: ops?.metrics,
    });
  }
  adapters = await startPlatformAdapters(deps);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  logger.info("shutting down");
  stopping = true;
  for (const a of adapters) await a.close();
  await worker?.close();
  await queue.close();
  redis.disconnect();
  await ops?.close();
  return 0;
});
