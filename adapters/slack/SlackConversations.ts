/**
 * What the Slack adapter does with what people send, independent of how it arrives (Socket Mode or
 * HTTP): `/ask`, `/reset`, mentions, plain follow-ups in the bot's threads and DMs (Stop clicks:
 * SlackStopButton; deleted replies and edited questions: SlackMessageChanges).
 *
 * A conversation on Slack is a thread: `slack:<teamId>:<channelId>:<threadTs>`.
 * - `/ask <question>` posts the question (attributed to the asker) as a new thread parent and answers
 *   in that thread.
 * - A mention outside a thread answers in a new thread on the mentioning message; inside a thread it
 *   continues that thread's conversation.
 * - In threads the bot started, plain messages continue the conversation without a mention
 *   (SLACK_THREAD_FOLLOWUPS), unless they mention someone else and not the bot.
 * - In a DM, every top-level message continues the DM's one conversation (`DM_CONVERSATION`), answered
 *   in the message's thread; replies in those threads continue it too. Other DM threads (the AI
 *   app's assistant threads) are conversations of their own.
 * - An edited question is answered as it was sent (SlackMessageChanges says so).
 *
 * Every message goes through the intake (src/intake/Intake.ts), claimed in Redis first (`SET NX`), so
 * Slack's double delivery of a mention and its retries produce one reply; the place's settings
 * decide whether it is answered and its conversation (slackPlaceSettings); its files and thread are
 * read meanwhile (slackRequestContext). The placeholder (with Stop) is posted at once; the worker
 * edits it. A refused message's placeholder (and `/ask` question) is deleted, the asker told privately.
 */
import type { Redis } from "ioredis";
import type { AdapterDeps } from "../../src/intake/AdapterDeps.ts";
import { Intake, type IntakeDraft, type IntakePlatform, type IntakeRefusal } from "../../src/intake/Intake.ts";
import { INTAKE_TEXT } from "../../src/intake/intakeMessages.ts";
import { SlackKeys } from "../../src/keys.ts";
import type { Logger } from "../../src/logger.ts";
import type { SettingsStore } from "../../src/settings/SettingsStore.ts";
import { normalizeUserText, stripSlackMention } from "../../src/text/normalizeUserText.ts";
import type { ReplyTarget } from "../../src/types.ts";
import { PlaceholderPoster } from "./postPlaceholderOnce.ts";
import { SlackFeatures, STATUS_THINKING } from "./SlackFeatures.ts";
import { MESSAGE_REQUEST_TTL_SECONDS } from "./SlackSink.ts";
import { SlackUserNames } from "./SlackUserNames.ts";
import { DM_CONVERSATION, RESET_TEXT, slackConversationKey } from "./slackConversation.ts";
import type { SlackFileRef } from "./slackFiles.ts";
import { askedMessage, cannotPostText, fromSlackText, placeholderMessage, slackReplyText } from "./slackMessages.ts";
import { checkPlace, slackDraft, slackSettingsStore } from "./slackPlaceSettings.ts";
import { FILES_ONLY_TEXT, gatherSlackContext, type SlackContextDeps } from "./slackRequestContext.ts";
import { type WebClient, type WebClientOptions, webClientOptions } from "./slackWorkspaces.ts";

/** An empty DM (a DM with only a file asks about the file: slackRequestContext's FILES_ONLY_TEXT). */
const EMPTY_DM = "Your message is empty — write your question and I'll answer.";

export const USAGE =
  "Ask me something: `/ask <your question>` — I answer in a new thread, and you can keep talking to me there " +
  "(mention me, or just reply in my threads). `/ask reset` or `/reset` makes me forget your latest conversation in this channel.";
/** Redis did not answer (the same text on every platform). */
export const UNAVAILABLE = INTAKE_TEXT.unavailable;

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
  /** Files shared with the message and the workspace's bot token: read into its `context` (with the thread when the bot did not start it) once claimed. */
  files?: SlackFileRef[];
  botToken?: string;
}

export interface SlackBotIdentity {
  userId: string;
}

/** One message being taken: where it goes and how the asker is told. */
interface Turn extends SlackPlace {
  client: WebClient;
  requestId: string;
  /** The thread the reply goes in (an `/ask` learns it once its question is posted). */
  threadTs: string;
  /** The conversation's thread id when it is not `threadTs` (a DM's: DM_CONVERSATION). */
  conversationTs?: string;
  /** What an empty message is told (default: the intake's text and the usage). */
  emptyText?: string;
  text: string;
  /** The thread is the bot's (its plain follow-ups continue the conversation). */
  botThread: boolean;
  /** Display name when the platform gave it (slash commands). */
  userName?: string;
  /** Tells the asker privately why their message was not taken. */
  refuse: (message: string) => Promise<void>;
  /** Messages to take back with the placeholder when the request is refused (the /ask question). */
  alsoWithdraw: string[];
  context?: () => ReturnType<typeof gatherSlackContext>;
}

const errorCode = (err: unknown): string | undefined => (err as { data?: { error?: string } }).data?.error;

export class SlackConversations {
  private readonly redis: Redis;
  private readonly keys: SlackKeys;
  private readonly intake: Intake;
  private readonly names: SlackUserNames;
  private readonly features: SlackFeatures;
  readonly settings: SettingsStore;
  private readonly contextDeps: SlackContextDeps;

  /** Posts placeholders once, however Slack answers (see postPlaceholderOnce.ts). */
  private readonly placeholders: PlaceholderPoster;

  constructor(
    private readonly deps: AdapterDeps,
    private readonly log: Logger,
    clientOptions: WebClientOptions = webClientOptions(deps.config),
  ) {
    this.placeholders = new PlaceholderPoster(clientOptions, log);
    this.redis = deps.redis;
    this.keys = new SlackKeys(deps.keys);
    this.names = new SlackUserNames(log);
    this.features = new SlackFeatures(deps.redis, this.keys, log);
    this.settings = slackSettingsStore(deps, log);
    this.contextDeps = { config: deps.config, log, names: this.names };
    this.intake = new Intake({ redis: deps.redis, keys: deps.keys, ingestor: deps.ingestor, logger: log });
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
    const refuse = async (message: string) => {
      await respond({ response_type: "ephemeral", text: message }).catch((err: unknown) =>
        this.log.warn({ err }, "could not answer the command"),
      );
    };
    const { triggerId, userName, ...where } = place;
    const turn: Turn = {
      ...where,
      client,
      requestId: `slack-${place.teamId}-cmd-${triggerId}`,
      text,
      botThread: true,
      refuse,
      threadTs: "",
      alsoWithdraw: [],
    };
    if (userName) turn.userName = userName;
    // The question is posted first, as the thread's parent: the conversation lives in its thread.
    await this.take(turn, async () => {
      let failure: string | undefined;
      try {
        const parent = await client.chat.postMessage({
          channel: place.channelId,
          text: askedMessage(place.userId, text),
          unfurl_links: false,
          unfurl_media: false,
        });
        if (parent.ts) {
          turn.threadTs = parent.ts;
          turn.alsoWithdraw.push(parent.ts);
          return true;
        }
      } catch (err) {
        failure = errorCode(err);
        this.log.warn({ err: failure ?? String(err), channel: place.channelId }, "could not post the question");
      }
      await refuse(cannotPostText(failure));
      return false;
    });
  }

  /** `/reset` and `/ask reset`: forget the user's latest conversation in this channel. */
  async resetCommand(client: WebClient, place: SlackPlace, respond: Respond): Promise<void> {
    const reply = (text: string) =>
      respond({ response_type: "ephemeral", text }).catch((err: unknown) => this.log.warn({ err }, "could not answer /reset"));
    await reply(await this.resetLatest(client, place));
  }

  /** Resets the user's latest thread conversation in the channel (a DM: its conversation); returns what to tell them. */
  private async resetLatest(client: WebClient, place: SlackPlace): Promise<string> {
    const lastKey = this.keys.lastThread(place.teamId, place.channelId, place.userId);
    const isDm = place.channelId.startsWith("D");
    let threadTs: string | null;
    try {
      threadTs = isDm ? DM_CONVERSATION : await this.redis.get(lastKey);
      if (threadTs) {
        await this.deps.memory.reset(slackConversationKey(place.teamId, place.channelId, threadTs));
        await this.redis.del(lastKey);
      }
    } catch (err) {
      this.log.warn({ err }, "reset failed: Redis unavailable");
      return UNAVAILABLE;
    }
    if (!threadTs) return RESET_TEXT.nothing;
    if (threadTs === DM_CONVERSATION) return RESET_TEXT.done("our conversation");
    const link = await client.chat
      .getPermalink({ channel: place.channelId, message_ts: threadTs })
      .then((r) => r.permalink)
      .catch(() => undefined);
    return RESET_TEXT.done(`our conversation in ${link ? `<${link}|this thread>` : "your latest thread in this channel"}`);
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
    // A DM is one conversation; a thread in it too when it is one the bot answered a top-level message in.
    const dmWide = isDm && (!inThread || (await this.threadKind(m.teamId, m.channelId, threadTs)) === DM_CONVERSATION);
    const conversationTs = dmWide ? DM_CONVERSATION : threadTs;
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
    let text = normalizeUserText(fromSlackText(stripSlackMention(m.text, bot.userId)));
    if (text === "" && (m.files?.length ?? 0) > 0) text = FILES_ONLY_TEXT;
    const place: SlackPlace = { teamId: m.teamId, channelId: m.channelId, userId: m.userId };
    const refuse = (message: string) => this.ephemeral(client, place, threadTs, message);
    if (/^\/?reset[.!]?$/i.test(text)) {
      await this.resetThread(client, place, requestId, inThread || isDm ? { conversationTs, threadTs, dm: dmWide } : undefined, refuse);
      return;
    }
    const context = () => gatherSlackContext(this.contextDeps, client, { ...m, threadTs }, bot, inThread && !botThread && !isDm);
    const turn: Turn = { ...place, client, requestId, threadTs, conversationTs, text, botThread, refuse, alsoWithdraw: [], context };
    if (isDm) turn.emptyText = EMPTY_DM;
    await this.take(turn);
  }

  /** "@bot reset": in a thread, forget that thread's conversation; outside one, like `/reset`. */
  private async resetThread(
    client: WebClient,
    place: SlackPlace,
    requestId: string,
    where: { conversationTs: string; threadTs: string; dm: boolean } | undefined,
    refuse: (m: string) => Promise<void>,
  ): Promise<void> {
    const claim = await this.intake.claim(this.keys.claim(requestId));
    if (claim === "replay") return;
    if (claim === "unavailable") {
      await refuse(UNAVAILABLE);
      return;
    }
    if (where === undefined) {
      await refuse(await this.resetLatest(client, place));
      return;
    }
    try {
      await this.deps.memory.reset(slackConversationKey(place.teamId, place.channelId, where.conversationTs));
    } catch (err) {
      this.log.warn({ err }, "reset failed: Redis unavailable");
      await refuse(UNAVAILABLE);
      return;
    }
    await client.chat
      .postMessage({
        channel: place.channelId,
        thread_ts: where.threadTs,
        text: RESET_TEXT.done(where.dm ? "our conversation" : "this thread's conversation"),
      })
      .catch((err: unknown) => this.log.warn({ err: errorCode(err) ?? String(err) }, "could not confirm the reset"));
  }

  // ------------------------------------------------------------------ the common path

  /**
   * The intake's steps for one message: claim, check, `prepare` (the /ask question), the placeholder
   * in the thread, the queue; a refused request's placeholder is taken back and the asker told.
   */
  private async take(t: Turn, prepare?: () => Promise<boolean>): Promise<void> {
    const platform: IntakePlatform = {
      refuse: (r) => t.refuse(r.code === "EMPTY_MESSAGE" && t.emptyText ? t.emptyText : refusalText(r)),
      prepare: async (): Promise<IntakeDraft | null> => {
        const here = await checkPlace(this.settings, this.log, t);
        if (!here.enabled) return t.refuse(here.userMessage).then(() => null);
        if (prepare && !(await prepare())) return null;
        return slackDraft(t, here.memoryScope, this.names.lookup(t.client, t.teamId, t.userId, t.userName), t.context?.());
      },
      postPlaceholder: (_draft, ahead) => this.postPlaceholder(t, ahead),
      withdraw: async (placeholder, refusal) => {
        await this.withdraw(t, placeholder?.messageId, refusal === undefined);
        if (refusal) await t.refuse(refusal.userMessage);
      },
    };
    await this.intake.take({ text: t.text, claimKey: this.keys.claim(t.requestId) }, platform);
  }

  /** Posts the placeholder in the thread, and the thread's bookkeeping; null (having told the asker) when it cannot. */
  private async postPlaceholder(t: Turn, ahead: number): Promise<ReplyTarget | null> {
    let ts: string | undefined;
    try {
      const message = { channel: t.channelId, thread_ts: t.threadTs, ...placeholderMessage(t.requestId, ahead) };
      ts = await this.placeholders.post(t.client, t.requestId, message);
    } catch (err) {
      this.log.warn({ err: errorCode(err) ?? String(err), channel: t.channelId }, "could not post the placeholder");
      await this.withdraw(t, undefined);
      await t.refuse(cannotPostText(errorCode(err)));
      return null;
    }
    if (!ts) return null;
    const ttl = this.deps.config.MEMORY_TTL_SECONDS;
    const book = this.redis
      .multi()
      .set(this.keys.messageRequest(t.teamId, t.channelId, ts), t.requestId, "EX", MESSAGE_REQUEST_TTL_SECONDS);
    const conversationTs = t.conversationTs ?? t.threadTs;
    const kind = conversationTs === DM_CONVERSATION ? DM_CONVERSATION : "1";
    if (t.botThread) book.set(this.keys.botThread(t.teamId, t.channelId, t.threadTs), kind, "EX", ttl);
    book.set(this.keys.lastThread(t.teamId, t.channelId, t.userId), conversationTs, "EX", ttl);
    await book.exec().catch((err: unknown) => this.log.warn({ err: String(err) }, "could not store the thread's bookkeeping"));
    // After the placeholder: Slack clears a thread's status when the app posts there.
    await this.features.setStatus(t.client, t.teamId, t.channelId, t.threadTs, STATUS_THINKING);
    return {
      platform: "slack",
      channelId: t.channelId,
      threadId: t.threadTs,
      messageId: ts,
      workspaceId: t.teamId,
      requestId: t.requestId,
      userId: t.userId,
    };
  }

  /** Takes back what was posted for a refused request (placeholder, /ask question); if a delete fails, says why in place. */
  private async withdraw(t: Turn, placeholderTs: string | undefined, silent = false): Promise<void> {
    if (placeholderTs) await this.features.setStatus(t.client, t.teamId, t.channelId, t.threadTs, "");
    // The bot's own deletion is not an admin removing a reply (SlackMessageChanges): forget the mapping first.
    if (placeholderTs) await this.redis.del(this.keys.messageRequest(t.teamId, t.channelId, placeholderTs)).catch(() => undefined);
    for (const ts of [placeholderTs, ...t.alsoWithdraw]) {
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

  /** The bot's mark on a thread: "1" (its thread), DM_CONVERSATION (a DM thread of the DM's conversation), or null. */
  private async threadKind(teamId: string, channelId: string, threadTs: string): Promise<string | null> {
    return this.redis.get(this.keys.botThread(teamId, channelId, threadTs)).catch(() => null);
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
}

/** An intake refusal as Slack says it: an empty message also gets the usage line. */
function refusalText(r: IntakeRefusal): string {
  return r.code === "EMPTY_MESSAGE" ? `${r.userMessage} ${USAGE}` : r.userMessage;
}
