/** Start the adapter of every platform whose credentials are configured. */

import { startDiscordAdapter } from "../../adapters/discord/startDiscordAdapter.ts";
import { startSlackAdapter } from "../../adapters/slack/startSlackAdapter.ts";
import type { AdapterDeps, RunningAdapter } from "../../src/intake/AdapterDeps.ts";

export async function startPlatformAdapters(deps: AdapterDeps): Promise<RunningAdapter[]> {
  const started: RunningAdapter[] = [];
  if (deps.config.DISCORD_TOKEN) started.push(await startDiscordAdapter(deps));
  if (deps.config.SLACK_BOT_TOKEN) started.push(await startSlackAdapter(deps));
  if (started.length === 0) deps.logger.warn("no platform adapter started");
  return started;
}
