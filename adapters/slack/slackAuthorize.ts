/**
 * Bolt's `authorize` for the Slack adapter: an event, command or click is handled with the bot
 * token of its own workspace (or of its Enterprise Grid org, for an org-wide install), never with
 * another one. A workspace none of the configured tokens belongs to is refused: Bolt acknowledges
 * the request and calls no listener (nothing is answered or posted), and the operator gets one
 * error line per workspace and hour naming it (`SLACK_BOT_TOKEN` lacks its token).
 */
import type { Authorize } from "@slack/bolt";
import type { Logger } from "../../src/logger.ts";
import { type SlackWorkspace, workspaceFor } from "./slackWorkspaces.ts";

/** A workspace is named in the log at most this often (ms). */
const WARN_EVERY_MS = 3600_000;

export class UnknownWorkspaceError extends Error {
  readonly code = "SLACK_UNKNOWN_WORKSPACE";
  constructor(readonly teamId: string | undefined) {
    super(`no bot token for workspace ${teamId ?? "(none given)"}`);
  }
}

export function slackAuthorize(workspaces: readonly SlackWorkspace[], log: Logger): Authorize<boolean> {
  const warned = new Map<string, number>();
  return async (source) => {
    const teamId = source.teamId ?? undefined;
    const enterpriseId = source.enterpriseId ?? undefined;
    const ws = workspaceFor(workspaces, teamId, enterpriseId);
    if (!ws) {
      const key = `${enterpriseId ?? ""}/${teamId ?? ""}`;
      const now = Date.now();
      if ((warned.get(key) ?? 0) + WARN_EVERY_MS <= now) {
        warned.set(key, now);
        log.error(
          { team: teamId, enterprise: enterpriseId, known: workspaces.map((w) => w.teamId) },
          "Slack sent a request from a workspace without its own bot token: not answered (add its xoxb- token to SLACK_BOT_TOKEN)",
        );
      }
      throw new UnknownWorkspaceError(teamId);
    }
    return {
      botToken: ws.token,
      botUserId: ws.botUserId,
      botId: ws.botId,
      teamId: teamId ?? ws.teamId,
      enterpriseId: enterpriseId ?? ws.enterpriseId,
    };
  };
}
