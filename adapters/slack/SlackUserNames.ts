/**
 * People's display names for the model's view of a shared thread (users.info), cached in memory
 * per workspace; the user id stands in when Slack cannot tell.
 */
import type { Logger } from "../../src/logger.ts";
import type { WebClient } from "./slackWorkspaces.ts";

/** Forget every cached name past this many (a crude bound; names change rarely). */
const MAX_CACHED = 10_000;

export class SlackUserNames {
  private readonly names = new Map<string, string>();

  constructor(private readonly log: Logger) {}

  /** A user's display name; `hint` (a slash command's user_name) or the id when it cannot be looked up. */
  async lookup(client: WebClient, teamId: string, userId: string, hint: string | undefined): Promise<string> {
    const key = `${teamId}:${userId}`;
    const cached = this.names.get(key);
    if (cached) return cached;
    let name = hint ?? userId;
    try {
      const res = await client.users.info({ user: userId });
      const u = res.user;
      name = u?.profile?.display_name || u?.real_name || u?.name || name;
    } catch (err) {
      const code = (err as { data?: { error?: string } }).data?.error;
      this.log.debug({ err: code ?? String(err) }, "users.info failed; using the user id as name");
    }
    if (this.names.size > MAX_CACHED) this.names.clear();
    this.names.set(key, name);
    return name;
  }
}
