/**
 * What Slack reports about messages that changed after they were sent:
 *
 * - `message_deleted` of one of the bot's reply messages (an admin removed it; Slack does not say
 *   who): the reply stops as if its message was found gone — generation ends, nothing more is
 *   posted, nothing of it is remembered (`Ingestor.markGone`). The bot's own deletions (a refused
 *   placeholder, the placeholder above a streamed answer) forget the message → request mapping
 *   before deleting, so they find no request here and stop nothing.
 * - `message_changed` of a question the bot already took (answered, answering, or waiting): the
 *   answer is to the message as it was sent; the asker is told once per edit, privately, that the
 *   edit was not read and how to ask again. Edits that leave the text as it was (link previews,
 *   the bot's own messages) say nothing.
 */
import type { Redis } from "ioredis";
import type { SlackKeys } from "../../src/keys.ts";
import type { Logger } from "../../src/logger.ts";
import type { Ingestor } from "../../src/queue/Ingestor.ts";
import type { WebClient } from "./slackWorkspaces.ts";

export const EDITED_QUESTION_NOTE =
  "I answer a message as it was when you sent it, so I didn't read your edit. Send it as a new message if you'd like an answer to it.";
const NOTE_TTL_SECONDS = 24 * 3600;

type Loose = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined);

export interface SlackMessageChangesDeps {
  redis: Redis;
  keys: SlackKeys;
  ingestor: Pick<Ingestor, "markGone">;
  log: Logger;
}

export class SlackMessageChanges {
  constructor(private readonly deps: SlackMessageChangesDeps) {}

  /** A `message` event with subtype `message_deleted` or `message_changed`; true when it was one of them. */
  async handle(client: WebClient, teamId: string, event: Loose, botUserId: string): Promise<boolean> {
    const subtype = str(event.subtype);
    const channel = str(event.channel);
    if (!channel) return subtype === "message_deleted" || subtype === "message_changed";
    if (subtype === "message_deleted") {
      const ts = str(event.deleted_ts);
      if (ts) await this.deleted(teamId, channel, ts);
      return true;
    }
    if (subtype === "message_changed") {
      await this.edited(client, teamId, channel, (event.message ?? {}) as Loose, (event.previous_message ?? {}) as Loose, botUserId);
      return true;
    }
    return false;
  }

  /** A message was deleted: if it showed a reply, that reply stops and leaves nothing behind. */
  async deleted(teamId: string, channel: string, ts: string): Promise<void> {
    const { redis, keys, ingestor, log } = this.deps;
    let requestId: string | null;
    try {
      requestId = await redis.get(keys.messageRequest(teamId, channel, ts));
    } catch (err) {
      log.warn({ err: String(err) }, "could not look up a deleted message");
      return;
    }
    if (!requestId) return;
    await ingestor
      .markGone(requestId)
      .then(() => log.info({ requestId, channel, ts }, "a reply was deleted on Slack; stopping it"))
      .catch((err: unknown) => log.warn({ err, requestId }, "could not stop a deleted reply"));
  }

  private async edited(client: WebClient, teamId: string, channel: string, message: Loose, previous: Loose, botUserId: string) {
    const ts = str(message.ts);
    const user = str(message.user);
    if (!ts || !user || user === botUserId || message.bot_id !== undefined) return;
    const text = typeof message.text === "string" ? message.text : "";
    if (text === (typeof previous.text === "string" ? previous.text : "")) return;
    const { redis, keys, log } = this.deps;
    const requestId = `slack-${teamId}-${channel}-${ts}`;
    const edited = (message.edited ?? {}) as Loose;
    try {
      if ((await redis.exists(keys.claim(requestId))) !== 1) return; // not a question the bot took
      const first = await redis.set(keys.claim(`${requestId}-edit-${str(edited.ts) ?? text.length}`), "1", "EX", NOTE_TTL_SECONDS, "NX");
      if (first === null) return;
    } catch {
      return;
    }
    log.info({ requestId }, "a question was edited after it was taken; the answer stays with the original");
    const threadTs = str(message.thread_ts) ?? ts;
    await client.chat
      .postEphemeral({ channel, user, thread_ts: threadTs, text: EDITED_QUESTION_NOTE })
      .catch((err: unknown) => log.warn({ err: String(err) }, "could not tell the asker about their edit"));
  }
}
