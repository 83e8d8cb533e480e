/**
 * Which of Slack's newer features a workspace refused — native streams (`chat.*Stream`), the
 * thread status (`assistant.threads.setStatus`), the assistant's prompts and titles — latched in
 * Redis so that every worker and the adapter skip the refused call instead of repeating it on every
 * reply, and tried again once the latch expires (`FEATURE_RETRY_SECONDS`: the app's settings or
 * scopes may have been fixed in between). A Redis hiccup counts as "not refused".
 *
 * And the thread status itself: "is thinking…", a place in line, or "" (cleared), best effort.
 */
import type { Redis } from "ioredis";
import type { SlackKeys } from "../../src/keys.ts";
import type { Logger } from "../../src/logger.ts";
import { FEATURE_REFUSALS, slackError } from "./slackApiErrors.ts";
import type { WebClient } from "./slackWorkspaces.ts";

export type SlackFeature = "streaming" | "status" | "assistant";

/** How long a refused feature is left alone before it is tried again. */
export const FEATURE_RETRY_SECONDS = 30 * 60;
/** How long a process trusts what it read from Redis. */
const CACHE_MS = 5000;

export const STATUS_THINKING = "is thinking…";

/** The status of a thread whose message waits: its place in line. */
export function waitingStatus(ahead: number): string {
  return ahead <= 0 ? STATUS_THINKING : `is waiting — ${ahead} message${ahead === 1 ? "" : "s"} ahead in this conversation…`;
}

export class SlackFeatures {
  private readonly cache = new Map<string, { off: boolean; at: number }>();

  constructor(
    private readonly redis: Redis,
    private readonly keys: SlackKeys,
    private readonly logger: Logger,
  ) {}

  async isOff(teamId: string, feature: SlackFeature): Promise<boolean> {
    const key = this.keys.featureOff(teamId, feature);
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.off;
    let off = false;
    try {
      off = (await this.redis.exists(key)) === 1;
    } catch {
      off = false;
    }
    this.cache.set(key, { off, at: Date.now() });
    return off;
  }

  /** `err` refused the feature for the whole workspace: latch it off. Returns whether it did. */
  async refused(teamId: string, feature: SlackFeature, err: unknown): Promise<boolean> {
    const code = slackError(err);
    if (code === undefined || !FEATURE_REFUSALS.has(code)) return false;
    const key = this.keys.featureOff(teamId, feature);
    this.cache.set(key, { off: true, at: Date.now() });
    this.logger.warn(
      { workspace: teamId, feature, error: code, retryInSeconds: FEATURE_RETRY_SECONDS },
      "Slack refused a feature in this workspace; using the fallback until the retry",
    );
    await this.redis.set(key, code, "EX", FEATURE_RETRY_SECONDS).catch(() => undefined);
    return true;
  }

  /** Sets (or with "" clears) a thread's status. Best effort: never throws. */
  async setStatus(client: WebClient, teamId: string, channelId: string, threadTs: string, status: string): Promise<boolean> {
    if (await this.isOff(teamId, "status")) return false;
    try {
      await client.assistant.threads.setStatus({ channel_id: channelId, thread_ts: threadTs, status });
      return true;
    } catch (err) {
      if (!(await this.refused(teamId, "status", err))) {
        this.logger.debug({ err: slackError(err) ?? String(err), channel: channelId }, "could not set the thread status");
      }
      return false;
    }
  }
}
