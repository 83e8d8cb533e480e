/**
 * The Stop button of a Slack reply (its value: the request id; without one, the clicked message's
 * request). As on Discord, only the asker or a workspace admin (or owner) may stop an answer:
 * anyone else is told privately who can. A message still waiting in line leaves the line at once
 * and its placeholder says "Stopped before it started." right away (no worker is involved); one
 * being generated is stopped by its worker, which keeps the partial answer with a note.
 */
import type { Redis } from "ioredis";
import { INTAKE_TEXT } from "../../src/intake/intakeMessages.ts";
import type { Keys, SlackKeys } from "../../src/keys.ts";
import type { Logger } from "../../src/logger.ts";
import type { Ingestor } from "../../src/queue/Ingestor.ts";
import type { ChatRequest } from "../../src/types.ts";
import type { Respond } from "./SlackConversations.ts";
import { slackError } from "./slackApiErrors.ts";
import type { WebClient } from "./slackWorkspaces.ts";

export const STOPPED_BEFORE_START = "Stopped before it started.";
export const onlyAskerCanStop = (askerId: string): string => `Only <@${askerId}>, who asked, or a workspace admin can stop this answer.`;
const ATTACH_WAIT_TRIES = 30;
const COULD_NOT_STOP = "I couldn't stop that answer right now, please try again in a moment.";

export interface SlackStopButtonDeps {
  redis: Redis;
  keys: Keys;
  slackKeys: SlackKeys;
  ingestor: Pick<Ingestor, "stop" | "stopWaiting">;
  log: Logger;
}

export interface StopClick {
  teamId: string;
  channelId: string;
  /** The clicked message. */
  messageTs?: string;
  /** Who clicked. */
  userId: string;
  /** The button's value (the request id). */
  value?: string;
}

export class SlackStopButton {
  constructor(private readonly deps: SlackStopButtonDeps) {}

  async click(client: WebClient, c: StopClick, respond: Respond | undefined): Promise<void> {
    const { redis, slackKeys, ingestor, log } = this.deps;
    const tell = (text: string) =>
      respond?.({ response_type: "ephemeral", text, replace_original: false }).catch((err: unknown) =>
        log.warn({ err: String(err) }, "could not answer a Stop click"),
      );
    let request: ChatRequest | undefined;
    let requestId = c.value?.startsWith("slack-") ? c.value : undefined;
    try {
      if (!requestId && c.messageTs)
        requestId = (await redis.get(slackKeys.messageRequest(c.teamId, c.channelId, c.messageTs))) ?? undefined;
      if (!requestId) {
        log.warn({ channel: c.channelId, ts: c.messageTs }, "Stop clicked on a message whose request is unknown");
        return;
      }
      request = await this.request(requestId);
    } catch (err) {
      log.warn({ err: String(err) }, "could not read the request of a Stop click");
      await tell(INTAKE_TEXT.unavailable);
      return;
    }
    const askerId = request?.author.id;
    if (askerId && askerId !== c.userId && !(await this.isAdmin(client, c.userId))) {
      log.info({ requestId, userId: c.userId }, "Stop refused: neither the asker nor an admin");
      await tell(onlyAskerCanStop(askerId));
      return;
    }
    let waiting = false;
    try {
      waiting = request ? await ingestor.stopWaiting(request.conversationKey, requestId) : false;
      if (!waiting) await ingestor.stop(requestId);
    } catch (err) {
      log.warn({ err: String(err) }, "could not request a stop");
      await tell(COULD_NOT_STOP);
      return;
    }
    log.info({ requestId, userId: c.userId, waiting }, waiting ? "stopped while waiting" : "stop requested");
    if (waiting && request) {
      const { channelId, messageId } = request.reply;
      await client.chat
        .update({ channel: channelId, ts: messageId, text: STOPPED_BEFORE_START, blocks: [] })
        .catch((err: unknown) => log.warn({ err: slackError(err) ?? String(err) }, "could not show the stop in the placeholder"));
    }
  }

  /**
   * The request, once its placeholder is attached to its place (a click can come in the moment
   * between the placeholder's post and the attach: a reserved request is waited for, briefly).
   */
  private async request(requestId: string): Promise<ChatRequest | undefined> {
    for (let i = 0; ; i++) {
      const raw = await this.deps.redis.get(this.deps.keys.request(requestId));
      const request = raw ? (JSON.parse(raw) as Partial<ChatRequest>) : undefined;
      if (!request || (request.reply && request.author)) return request as ChatRequest | undefined;
      if (i >= ATTACH_WAIT_TRIES) return undefined;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Workspace admins and owners (`users.info`); unknown (an error): not an admin. */
  private async isAdmin(client: WebClient, userId: string): Promise<boolean> {
    try {
      const res = await client.users.info({ user: userId });
      return Boolean(res.user?.is_admin || res.user?.is_owner || res.user?.is_primary_owner);
    } catch (err) {
      this.deps.log.warn({ err: slackError(err) ?? String(err) }, "could not tell whether a user is an admin");
      return false;
    }
  }
}
