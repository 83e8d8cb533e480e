/**
 * Bot tokens and the workspaces they belong to.
 *
 * `SLACK_BOT_TOKEN` holds one bot token (`xoxb-…`), or several separated by commas when the same
 * app is installed in several workspaces: each token is asked who it is (`auth.test`) once, and
 * events, edits and posts of a workspace use that workspace's token. A workspace no token was
 * found for gets none — never another workspace's (an org-wide Enterprise Grid install has one
 * token for its whole org: found by the enterprise id).
 */
import { webApi } from "@slack/bolt";
import type { Config } from "../../src/config.ts";
import { ConfigError, PlatformError } from "../../src/errors.ts";

export type WebClient = InstanceType<typeof webApi.WebClient>;
export type WebClientOptions = ConstructorParameters<typeof webApi.WebClient>[1];

export interface SlackWorkspace {
  token: string;
  teamId: string;
  enterpriseId?: string;
  botUserId: string;
  botId: string;
}

/** The bot tokens in SLACK_BOT_TOKEN (comma-separated), in order. */
export function botTokens(config: Pick<Config, "SLACK_BOT_TOKEN">): string[] {
  return (config.SLACK_BOT_TOKEN ?? "")
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
}

/**
 * WebClient options from the config: SLACK_API_URL, a quiet logger, a 30 s timeout. Web API
 * client 8 sends with `fetch`: the timeout is an AbortSignal per attempt (a timed-out or dropped
 * request is a RequestError, as under axios), non-200 answers are HTTPErrors, and its retries
 * (p-retry, `retryConfig`) and 429 handling (`rejectRateLimitedCalls`) work as before — callers
 * add those: the adapter retries a little, workers not at all (SlackSink).
 */
export function webClientOptions(config: Pick<Config, "SLACK_API_URL">, extra: WebClientOptions = {}): NonNullable<WebClientOptions> {
  const options: NonNullable<WebClientOptions> = { logLevel: webApi.LogLevel.ERROR, timeout: 30_000, ...extra };
  if (config.SLACK_API_URL) options.slackApiUrl = config.SLACK_API_URL.endsWith("/") ? config.SLACK_API_URL : `${config.SLACK_API_URL}/`;
  return options;
}

/** Asks Slack (`auth.test`) which workspace and bot user each token belongs to. */
export async function resolveWorkspaces(tokens: readonly string[], options: WebClientOptions): Promise<SlackWorkspace[]> {
  return Promise.all(
    tokens.map(async (token, i) => {
      const client = new webApi.WebClient(token, { ...options, retryConfig: { retries: 2, factor: 1.5, minTimeout: 200 } });
      let res: Awaited<ReturnType<WebClient["auth"]["test"]>>;
      try {
        res = await client.auth.test();
      } catch (err) {
        const refused = (err as { data?: { error?: string } }).data?.error;
        if (refused) throw new ConfigError("SLACK_BOT_TOKEN", `token ${i + 1} was refused by Slack's auth.test (${refused})`);
        throw new PlatformError(
          `could not reach Slack at ${client.slackApiUrl} to check the bot token (${err instanceof Error ? err.message : String(err)})`,
        );
      }
      if (!res.team_id || !res.user_id)
        throw new ConfigError("SLACK_BOT_TOKEN", `token ${i + 1} is not a bot token (auth.test gave no team or user)`);
      const ws: SlackWorkspace = { token, teamId: res.team_id, botUserId: res.user_id, botId: res.bot_id ?? "" };
      if (res.enterprise_id) ws.enterpriseId = res.enterprise_id;
      return ws;
    }),
  );
}

/** Finds a workspace's entry (by team, then enterprise); undefined when no token belongs to it. */
export function workspaceFor(
  workspaces: readonly SlackWorkspace[],
  teamId: string | undefined,
  enterpriseId?: string,
): SlackWorkspace | undefined {
  return (
    workspaces.find((w) => teamId !== undefined && w.teamId === teamId) ??
    workspaces.find((w) => enterpriseId !== undefined && w.enterpriseId === enterpriseId)
  );
}
