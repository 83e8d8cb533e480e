/** The platform reply sinks this worker can write to, from the configured credentials. */
import type { Redis } from "ioredis";
import { createDiscordSink } from "../../adapters/discord/DiscordSink.ts";
import { createSlackSink } from "../../adapters/slack/SlackSink.ts";
import type { Config } from "../../src/config.ts";
import type { Keys } from "../../src/keys.ts";
import type { Logger } from "../../src/logger.ts";
import type { Platform, ReplySink } from "../../src/types.ts";

export async function platformSinks(
  config: Config,
  logger: Logger,
  redis: Redis,
  keys: Keys,
): Promise<Partial<Record<Platform, ReplySink>>> {
  const sinks: Partial<Record<Platform, ReplySink>> = {};
  if (config.DISCORD_TOKEN) sinks.discord = createDiscordSink(config, logger, { redis, keys });
  if (config.SLACK_BOT_TOKEN) sinks.slack = createSlackSink(config, logger, redis, keys);
  return sinks;
}
