/**
 * What the Slack adapter does with what people send, independent of how it arrives (Socket Mode or
 * HTTP): `/ask`, `/reset`, mentions, plain follow-ups in the bot's threads, DMs, and Stop clicks.
 *
 * A conversation on Slack is a thread: `slack:<teamId>:<channelId>:<threadTs>`.
 * - `/ask <question>` posts the question (attributed to the asker) as a new thread parent and answers
 *   in that thread.
 * - A mention outside a thread answers in a new thread on the mentioning message; inside a thread it
 *   continues that thread's conversation.
 * - In threads the bot started, plain messages continue the conversation without a mention
 *   (SLACK_THREAD_FOLLOWUPS), unless they mention someone else and not the bot.
 * - In a DM, every top-level message starts a conversation answered in its thread; replies in the
 *   thread continue it.
 *
 * Every message is claimed in Redis before anything is posted (`SET NX` on the request id), so
 * Slack's double delivery of a mention (`app_mention` + `message`) and its retries (`retry_num`,
 * `retry_attempt`) produce exactly one reply. The placeholder ("⏳ Thinking…" with a Stop button) is
 * posted at once; the worker edits it.
 */
import type { Redis } from "ioredis";
import { InputRejectedError, RedisUnavailableError } from "../../src/errors.ts";
import type { AdapterDeps } from "../../src/intake/AdapterDeps.ts";
import type { Logger } from "../../src/logger.ts";
import { normalizeUserText, stripSlackMention } from "../../src/text/normalizeUserText.ts";
import type { ChatRequest, ReplyTarget } from "../../src/types.ts";
import { MESSAGE_REQUEST_TTL_SECONDS } from "./SlackSink.ts";
import { SlackKeys, slackConversationKey } from "./slackKeys.ts";
import { askedMessage, fromSlackText, placeholderMessage, slackReplyText } from "./slackMessages.ts";
import type { WebClient } from "./slackWorkspaces.ts";

/** How long a message id is remembered for dedupe (Slack retries for minutes, mentions arrive twice). */
export const CLAIM_TTL_SECONDS = 24 * 3600;

export const USAGE =
  "Ask me something: `/ask <your question>` — I answer in a new thread, and you can keep talking to me there " +
  "(mention me, or just reply in my threads). `/ask reset` or `/reset` makes me forget your latest conversation in this channel.";
export const UNAVAILABLE = "I can't take messages right now, please try again in a minute.";
const GENERIC_FAILURE = "Sorry — something went wrong while taking your message. Please try again.";

export type Respond = (message: {
  text: string;
  response_type?: "ephemeral" | "in_channel";
  replace_original?: boolean;
}) => Promise<unknown>;

/** Where a message was sent, and by whom. */
export interface SlackPlace {
  teamId: string;
  channelId: string;
  userId: string;
}

/** A user's message (from an `app_mention` or a `message` event). */
export interface IncomingSlackMessage extends SlackPlace {
  ts: string;
  threadTs?: string;
  text: string;
  /** "channel", "group", "im", "mpim" (message events). */
  channelType?: string;
}

export interface SlackBotIdentity {
  userId: string;
}

interface Turn extends SlackPlace {
  client: WebClient;
  requestId: string;
  threadTs: string;
  text: string;
  /** The thread is the bot's (its plain follow-ups continue the conversation). */
  botThread: boolean;
  /** Display name when the platform gave it (slash commands). */
  userName?: string;
  /** Tells the asker privately why their message was not taken. */
  refuse: (message: string) => Promise<void>;
  /** Messages to take back when the request is refused after the placeholder was posted (the /ask parent). */
  alsoWithdraw?: string[];
}

const errorCode = (err: unknown): string | undefined => (err as { data?: { error?: string } }).data?.error;

export class SlackConversations {
  private readonly redis: Redis;
  private readonly keys: SlackKeys;
  private readonly names = new Map<string, string>();

  constructor(
    private readonly deps: AdapterDeps,
    private readonly log: Logger,
  ) {
    this.redis = deps.redis;
    this.keys = new SlackKeys(deps.keys);
  }

  // ------------------------------------------------------------------ slash commands

  /** `/ask <question>` (already acknowledged; usage and reset are handled by the caller). */
  async ask(
    client: WebClient,
    place: SlackPlace & { triggerId: string; userName?: string },
    rawText: string,
    respond: Respond,
  ): Promise<void> {
    const text = normalizeUserText(fromSlackText(rawText));
    const requestId = `slack-${place.teamId}-cmd-${place.triggerId}`;
    const refuse = async (message: string) => {
      await respond({ response_type: "ephemeral", text: message }).catch((err: unknown) =>
        this.log.warn({ err }, "could not answer the command"),
      );
    };
    const base = { ...place, client, requestId, text, botThread: true, refuse, threadTs: "" };
    if (!(await this.claimAndCheck(base))) return;
    let parentTs: string | undefined;
    let failure: string | undefined;
    try {
      const parent = await client.chat.postMessage({
        channel: place.channelId,
        text: askedMessage(place.userId, text),
        unfurl_links: false,
        unfurl_media: false,
      });
      parentTs = parent.ts;
    } catch (err) {
      failure = errorCode(err);
      this.log.warn({ err: failure ?? String(err), channel: place.channelId }, "could not post the question");
    }
    if (!parentTs) {
      await this.release(requestId);
      await refuse(this.cannotPost(failure));
      return;
    }
    const turn: Turn = { ...base, threadTs: parentTs, alsoWithdraw: [parentTs] };
    if (place.userName) turn.userName = place.userName;
    await this.placeAndIngest(turn);
  }

  /** `/reset` and `/ask reset`: forget the user's latest conversation in this channel. */
  async resetCommand(client: WebClient, place: SlackPlace, respond: Respond): Promise<void> {
    const reply = (text: string) =>
      respond({ response_type: "ephemeral", text }).catch((err: unknown) => this.log.warn({ err }, "could not answer /reset"));
    await reply(await this.resetLatest(client, place));
  }

  /** Resets the user's latest thread conversation in the channel; returns what to tell them. */
  private async resetLatest(client: WebClient, place: SlackPlace): Promise<string> {
    const lastKey = this.keys.lastThread(place.teamId, place.channelId, place.userId);
    let threadTs: string | null;
    try {
      threadTs = await this.redis.get(lastKey);
      if (threadTs) {
        await this.deps.memory.reset(slackConversationKey(place.teamId, place.channelId, threadTs));
        await this.redis.del(lastKey);
      }
    } catch (err) {
      this.log.warn({ err }, "reset failed: Redis unavailable");
      return UNAVAILABLE;
    }
    if (!threadTs) {
      return (
        "There is nothing to reset: you have no conversation with me in this channel. Every `/ask` starts a fresh " +
        "conversation in its own thread; to clear a thread's conversation, mention me in that thread with `reset`."
      );
    }
    const link = await client.chat
      .getPermalink({ channel: place.channelId, message_ts: threadTs })
      .then((r) => r.permalink)
      .catch(() => undefined);
    const where = link ? `<${link}|this thread>` : "your latest thread in this channel";
    return `Done — I forgot our conversation in ${where}; your next message there starts fresh. (Each \`/ask\` starts a new conversation anyway.)`;
  }

  // ------------------------------------------------------------------ messages and mentions

  /**
   * A user's message: an `app_mention` (`mentioned`), or a `message` event that may be a mention,
   * a follow-up in one of the bot's threads, a DM, or nothing for the bot.
   */
  async message(client: WebClient, bot: SlackBotIdentity, m: IncomingSlackMessage, mentioned: boolean): Promise<void> {
    const isDm = m.channelType === "im" || (m.channelType === undefined && m.channelId.startsWith("D"));
    const mentionsBot = mentioned || new RegExp(`<@${bot.userId}(?:\\|[^>]*)?>`).test(m.text);
    const inThread = m.threadTs !== undefined && m.threadTs !== m.ts;
    const threadTs = inThread ? m.threadTs! : m.ts;
    let botThread = !inThread || isDm;
    if (inThread && !isDm) {
      botThread = await this.isBotThread(m.teamId, m.channelId, threadTs);
      if (!mentionsBot) {
        if (!this.deps.config.SLACK_THREAD_FOLLOWUPS || !botThread) return;
        // Addressed to someone else (mentions a person, not the bot): not for us.
        if (/<@[UW][A-Z0-9]+(?:\|[^>]*)?>/.test(m.text)) return;
      }
    } else if (!mentionsBot && !isDm) {
      return;
    }
    const requestId = `slack-${m.teamId}-${m.channelId}-${m.ts}`;
    const text = normalizeUserText(fromSlackText(stripSlackMention(m.text, bot.userId)));
    const place: SlackPlace = { teamId: m.teamId, channelId: m.channelId, userId: m.userId };
    const refuse = (message: string) => this.ephemeral(client, place, threadTs, message);
    if (/^\/?reset[.!]?$/i.test(text)) {
      await this.resetThread(client, place, requestId, inThread ? threadTs : undefined, refuse);
      return;
    }
    const turn: Turn = { ...place, client, requestId, threadTs, text, botThread, refuse };
    if (!(await this.claimAndCheck(turn))) return;
    await this.placeAndIngest(turn);
  }

  /** "@bot reset": in a thread, forget that thread's conversation; outside one, like `/reset`. */
  private async resetThread(
    client: WebClient,
    place: SlackPlace,
    requestId: string,
    threadTs: string | undefined,
    refuse: (m: string) => Promise<void>,
  ): Promise<void> {
    try {
      if ((await this.redis.set(this.keys.claim(requestId), "1", "EX", CLAIM_TTL_SECONDS, "NX")) === null) return;
    } catch {
      await refuse(UNAVAILABLE);
      return;
    }
    if (threadTs === undefined) {
      await refuse(await this.resetLatest(client, place));
      return;
    }
    try {
      await this.deps.memory.reset(slackConversationKey(place.teamId, place.channelId, threadTs));
    } catch (err) {
      this.log.warn({ err }, "reset failed: Redis unavailable");
      await refuse(UNAVAILABLE);
      return;
    }
    await client.chat
      .postMessage({
        channel: place.channelId,
        thread_ts: threadTs,
        text: "🧹 Done — I forgot this thread's conversation. The next message here starts fresh.",
      })
      .catch((err: unknown) => this.log.warn({ err: errorCode(err) ?? String(err) }, "could not confirm the reset"));
  }

  // ------------------------------------------------------------------ Stop

  /** The Stop button: ask the worker generating the reply to stop (it keeps the partial answer). */
  async stop(
    place: { teamId: string; channelId: string; messageTs?: string },
    value: string | undefined,
    respond: Respond | undefined,
  ): Promise<void> {
    try {
      let requestId = value?.startsWith("slack-") ? value : undefined;
      if (!requestId && place.messageTs)
        requestId = (await this.redis.get(this.keys.messageRequest(place.teamId, place.channelId, place.messageTs))) ?? undefined;
      if (!requestId) {
        this.log.warn({ channel: place.channelId, ts: place.messageTs }, "Stop clicked on a message whose request is unknown");
        return;
      }
      await this.deps.ingestor.stop(requestId);
      this.log.info({ requestId }, "stop requested");
    } catch (err) {
      this.log.warn({ err }, "could not request a stop");
      await respond?.({
        response_type: "ephemeral",
        text: "I couldn't stop that answer right now, please try again in a moment.",
        replace_original: false,
      }).catch(() => undefined);
    }
  }

  // ------------------------------------------------------------------ the common path

  /** Claims the request (false: a duplicate, or refused) and checks the text before anything is posted. */
  private async claimAndCheck(t: Omit<Turn, "threadTs"> & { threadTs?: string }): Promise<boolean> {
    try {
      if ((await this.redis.set(this.keys.claim(t.requestId), "1", "EX", CLAIM_TTL_SECONDS, "NX")) === null) {
        this.log.debug({ requestId: t.requestId }, "duplicate delivery ignored");
        return false;
      }
    } catch (err) {
      this.log.warn({ err: String(err) }, "Redis unavailable: message not taken");
      await t.refuse(UNAVAILABLE);
      return false;
    }
    try {
      this.deps.ingestor.validate(t.text);
    } catch (err) {
      if (!(err instanceof InputRejectedError)) throw err;
      await t.refuse(err.code === "EMPTY_MESSAGE" ? `${err.userMessage} ${USAGE}` : err.userMessage);
      return false;
    }
    return true;
  }

  /** Posts the placeholder in the thread and queues the request; takes the placeholder back if refused. */
  private async placeAndIngest(t: Turn): Promise<void> {
    const name = this.userName(t.client, t.teamId, t.userId, t.userName);
    let ts: string | undefined;
    try {
      const posted = await t.client.chat.postMessage({
        channel: t.channelId,
        thread_ts: t.threadTs,
        ...placeholderMessage(t.requestId),
        unfurl_links: false,
        unfurl_media: false,
      });
      ts = posted.ts;
    } catch (err) {
      this.log.warn({ err: errorCode(err) ?? String(err), channel: t.channelId }, "could not post the placeholder");
      await this.release(t.requestId);
      await this.withdraw(t, undefined);
      await t.refuse(this.cannotPost(errorCode(err)));
      return;
    }
    if (!ts) return;
    const reply: ReplyTarget = {
      platform: "slack",
      channelId: t.channelId,
      threadId: t.threadTs,
      messageId: ts,
      workspaceId: t.teamId,
      requestId: t.requestId,
    };
    const conversationKey = slackConversationKey(t.teamId, t.channelId, t.threadTs);
    const ttl = this.deps.config.MEMORY_TTL_SECONDS;
    const book = this.redis
      .multi()
      .set(this.keys.messageRequest(t.teamId, t.channelId, ts), t.requestId, "EX", MESSAGE_REQUEST_TTL_SECONDS);
    if (t.botThread) book.set(this.keys.botThread(t.teamId, t.channelId, t.threadTs), "1", "EX", ttl);
    book.set(this.keys.lastThread(t.teamId, t.channelId, t.userId), t.threadTs, "EX", ttl);
    await book.exec().catch((err: unknown) => this.log.warn({ err: String(err) }, "could not store the thread's bookkeeping"));
    const request: ChatRequest = {
      requestId: t.requestId,
      conversationKey,
      author: { id: t.userId, name: await name },
      text: t.text,
      receivedAt: Date.now(),
      reply,
    };
    try {
      const { ahead } = await this.deps.ingestor.ingest(request);
      this.log.info({ requestId: t.requestId, conversation: conversationKey, ahead }, "message queued");
    } catch (err) {
      if (err instanceof RedisUnavailableError && err.message.startsWith("queued")) {
        // In the inbox already; the workers' sweeper picks it up.
        this.log.warn({ requestId: t.requestId }, "queued, but the workers were not signalled; the sweeper will");
        return;
      }
      if (err instanceof InputRejectedError && err.code === "DUPLICATE_MESSAGE") {
        await this.withdraw(t, ts, true);
        return;
      }
      let message = GENERIC_FAILURE;
      if (err instanceof InputRejectedError) message = err.userMessage;
      else if (err instanceof RedisUnavailableError) message = UNAVAILABLE;
      else this.log.error({ err }, "could not queue a message");
      await this.withdraw(t, ts);
      await t.refuse(message);
    }
  }

  /** Takes back what was posted for a refused request (placeholder, /ask parent); if a delete fails, says why in place. */
  private async withdraw(t: Turn, placeholderTs: string | undefined, silent = false): Promise<void> {
    for (const ts of [placeholderTs, ...(t.alsoWithdraw ?? [])]) {
      if (!ts) continue;
      try {
        await t.client.chat.delete({ channel: t.channelId, ts });
      } catch (err) {
        this.log.warn({ err: errorCode(err) ?? String(err) }, "could not delete a withdrawn message");
        if (!silent && ts === placeholderTs) {
          await t.client.chat
            .update({ channel: t.channelId, ts, text: slackReplyText("_(not answered)_"), blocks: [] })
            .catch(() => undefined);
        }
      }
    }
  }

  private async release(requestId: string): Promise<void> {
    await this.redis.del(this.keys.claim(requestId)).catch(() => undefined);
  }

  private async isBotThread(teamId: string, channelId: string, threadTs: string): Promise<boolean> {
    try {
      return (await this.redis.exists(this.keys.botThread(teamId, channelId, threadTs))) === 1;
    } catch {
      return false;
    }
  }

  private async ephemeral(client: WebClient, place: SlackPlace, threadTs: string, text: string): Promise<void> {
    await client.chat
      .postEphemeral({ channel: place.channelId, user: place.userId, thread_ts: threadTs, text })
      .catch((err: unknown) => this.log.warn({ err: errorCode(err) ?? String(err) }, "could not send an ephemeral reply"));
  }

  private cannotPost(code: string | undefined): string {
    if (code === "not_in_channel" || code === "channel_not_found") {
      return "I can't post in this conversation. Invite me to the channel first (`/invite @qwenbot`), or send me a direct message.";
    }
    if (code === "is_archived") return "This channel is archived, so I can't answer here.";
    return `I couldn't post my answer here${code ? ` (Slack said \`${code}\`)` : ""}. Please try again in a moment.`;
  }

  /** A user's display name (users.info, cached); the id when it cannot be looked up. */
  private async userName(client: WebClient, teamId: string, userId: string, hint: string | undefined): Promise<string> {
    const key = `${teamId}:${userId}`;
    const cached = this.names.get(key);
    if (cached) return cached;
    let name = hint ?? userId;
    try {
      const res = await client.users.info({ user: userId });
      const u = res.user;
      name = u?.profile?.display_name || u?.real_name || u?.name || name;
    } catch (err) {
      this.log.debug({ err: errorCode(err) ?? String(err) }, "users.info failed; using the user id as name");
    }
    if (this.names.size > 10_000) this.names.clear();
    this.names.set(key, name);
    return name;
  }
}
