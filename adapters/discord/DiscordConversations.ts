/**
 * What the Discord adapter does with what people send, independent of the gateway plumbing
 * (startDiscordAdapter.ts): mentions, DMs, follow-ups in the bot's threads, `/ask` and `/reset`.
 * The Stop and Regenerate buttons are in DiscordButtons.ts.
 *
 * - A mention in a channel continues that channel's conversation; inside a thread, the thread's; a
 *   DM, the DM's — or, by the place's `memory-scope` setting, the channel's or the person's own
 *   (discordPlaceSettings.ts). A place switched off (`enabled`) answers with a short note. With
 *   `thread-per-mention` (default DISCORD_THREAD_PER_MENTION) a mention in a channel opens a thread
 *   named after the question, and plain messages in such a thread continue it without a mention.
 *   Every request carries its place: the worker answers with that place's settings.
 * - A mention that replies to a message brings it in as context, and attached text files are read
 *   (discordRequestContext.ts); a reply to the bot with the ping off gets a short hint.
 * - `/ask` posts the question visibly (attributed to the asker) and answers it like a mention.
 * - Every message goes through the intake (src/intake/Intake.ts): claimed in Redis before anything
 *   is posted (a MESSAGE_CREATE or INTERACTION_CREATE replayed after a gateway resume is dropped
 *   silently; the Ingestor's dedupe on the request id is the second line — `/reset` claims its
 *   interaction the same way), checked, given its place in line, answered with a placeholder
 *   showing that place (retried while Discord may take it; a nonce keeps it single), then queued.
 *   A refusal is a reply to the message (an ephemeral for `/ask`).
 * - A mention in a channel where the bot cannot post gets a DM naming the missing permission.
 * - `/ask` survives a failed interaction callback: when Discord saved the echo but answered an
 *   error (then "already acknowledged" on the retry), the echo is fetched; when the callback failed
 *   for good, the question is posted as a channel message; either way the answer arrives.
 * - A bot reply deleted on Discord (MESSAGE_DELETE) stops its generation: `deleted`.
 */
import type { ChatInputCommandInteraction } from "discord.js";
import type { RequestContext } from "../../src/context/RequestContext.ts";
import type { AttachmentSource } from "../../src/context/readAttachment.ts";
import type { AdapterDeps } from "../../src/intake/AdapterDeps.ts";
import { Intake, type IntakeDraft, type IntakePlatform, type IntakeRefusal } from "../../src/intake/Intake.ts";
import { DiscordKeys } from "../../src/keys.ts";
import type { Logger } from "../../src/logger.ts";
import { normalizeUserText } from "../../src/text/normalizeUserText.ts";
import type { ChatAuthor, ReplyTarget } from "../../src/types.ts";
import { checkDiscordAccess, type DiscordAccessDecision } from "./checkDiscordAccess.ts";
import { type DiscordApi, PlaceholderNotPosted } from "./DiscordApi.ts";
import { isImageRequest } from "./DiscordImagine.ts";
import { REPLY_MESSAGE_TTL_SECONDS } from "./DiscordSink.ts";
import type { DiscordTyping } from "./DiscordTyping.ts";
import { NO_MENTIONS } from "./discordComponents.ts";
import { type DiscordPlace, placeholderText, threadNameFor } from "./discordConversation.ts";
import { authorOf, ephemeral, ephemeralFollowUp, rolesOf } from "./discordInteraction.ts";
import { cannotAnswerText, DISCORD_TEXT, echoText } from "./discordMessages.ts";
import { chatPlaceOf, type DiscordIntakeSettings, discordConversationAt, discordIntakeSettings } from "./discordPlaceSettings.ts";
import { attachmentNotes, type DiscordReference, fetchReplyTo, readDiscordAttachments } from "./discordRequestContext.ts";
import { resetConversation } from "./discordReset.ts";

/** At most one "I can't read that" hint per bot thread in this window. */
const THREAD_HINT_TTL_SECONDS = 600;
/** At most one "keep the ping on" hint per person and channel in this window. */
const PING_HINT_TTL_SECONDS = 3600;

/** A user's message, as the gateway delivered it (bots, webhooks and system messages are already dropped). */
export interface IncomingDiscordMessage {
  id: string;
  channelId: string;
  /** null in DMs */
  guildId: string | null;
  /** The channel is a thread. */
  inThread: boolean;
  mentionsBot: boolean;
  author: ChatAuthor;
  /** The author's role ids (null outside a server). */
  roleIds: readonly string[] | null;
  /** The text for the model: the bot's mention removed, other mentions as readable names. */
  text: string;
  /** The files attached to it (read as text where they are text). */
  attachments: AttachmentSource[];
  /** The message it replies to, if it is a reply. */
  reference?: DiscordReference;
  /** It replies to one of the bot's messages (pinging the bot or not). */
  repliesToBot: boolean;
  /** Where it happened (may fetch the channel). */
  place(): Promise<DiscordPlace>;
}

/** Where an answer goes: the channel or thread, and the message the placeholder replies to (same channel). */
interface AnswerPlace {
  place: DiscordPlace;
  replyTo: string | undefined;
  notes: string[];
}

export class DiscordConversations {
  readonly intake: Intake;
  private readonly dkeys: DiscordKeys;

  constructor(
    private readonly deps: AdapterDeps,
    private readonly log: Logger,
    private readonly api: DiscordApi,
    private readonly typing: DiscordTyping,
  ) {
    this.dkeys = new DiscordKeys(deps.keys);
    this.intake = new Intake({ redis: deps.redis, keys: deps.keys, ingestor: deps.ingestor, logger: log });
  }

  private get config() {
    return this.deps.config;
  }

  // ================================================================ messages

  async message(m: IncomingDiscordMessage): Promise<void> {
    const inDm = m.guildId === null;
    // In a guild, only mentions count — except in a thread the bot opened for a question.
    let inBotThread = false;
    if (!inDm && !m.mentionsBot) {
      inBotThread = m.inThread && (await this.isBotThread(m.channelId));
      if (!inBotThread) {
        if (m.repliesToBot) await this.pingHint(m);
        return;
      }
    }
    const place = await m.place();
    const hasFiles = m.attachments.length > 0;
    const reply = (content: string) => this.api.replyTo(m.channelId, m.id, content);
    const where: AnswerPlace = { place, replyTo: m.id, notes: attachmentNotes(m.attachments, this.config) };
    const refused = (r: IntakeRefusal) => reply(r.userMessage);
    let settings: DiscordIntakeSettings | undefined;
    await this.intake.take(
      { text: m.text.length === 0 && hasFiles ? DISCORD_TEXT.onlyFiles : m.text, claimKey: this.dkeys.seen(m.id) },
      {
        ...this.answering(where, refused, async (err) => {
          // Nowhere to say it in the channel: tell the author privately.
          const text = cannotAnswerText("message", where.place.channelId, err, this.api.missingPermissions(where.place.channelId));
          await this.api.dm(m.author.id, text, `cannot-answer:${m.id}`);
        }),
        admit: async () => {
          const access = this.access(place, m.author.id, m.roleIds);
          if (!access.ok) {
            this.log.info({ reason: access.reason, userId: m.author.id, channelId: place.channelId }, "refused");
            await reply(access.message);
            return false;
          }
          if (inBotThread && !m.mentionsBot && m.text.length === 0 && !hasFiles) {
            // Without the Message Content intent Discord does not show us what was written.
            const first = await this.deps.redis
              .set(this.dkeys.threadHint(place.channelId), "1", "EX", THREAD_HINT_TTL_SECONDS, "NX")
              .catch(() => null);
            if (first) await reply(DISCORD_TEXT.threadHint);
            return false;
          }
          settings = await discordIntakeSettings(this.deps, this.log, place, m.author.id);
          if (!settings.enabled) {
            await reply(settings.userMessage ?? DISCORD_TEXT.disabled);
            return false;
          }
          return true;
        },
        refuse: refused,
        prepare: async () => {
          if (settings?.threadPerMention && !inDm && !place.isThread) {
            const thread = await this.openThread(place, m.id, m.text);
            if (thread) {
              where.place = thread;
              where.replyTo = undefined; // the question is the thread's starter message
            }
          } else if (place.isThread && inBotThread) {
            await this.refreshBotThread(place.channelId);
          }
          const context = await this.contextOf(m, where);
          return { ...this.draft(`discord-${m.id}`, where.place, m.author, settings), context };
        },
      },
    );
  }

  /**
   * The replied-to message (fetched now: a note in the placeholder when it cannot be shown) and
   * the files (read while the placeholder shows).
   */
  private async contextOf(m: IncomingDiscordMessage, where: AnswerPlace): Promise<Promise<RequestContext | undefined> | undefined> {
    const fetched = m.reference
      ? await fetchReplyTo((c, id) => this.api.fetchMessage(c, id), m.reference, this.api.botId, this.log)
      : undefined;
    if (fetched && "note" in fetched) where.notes.push(fetched.note);
    const replyTo = fetched && "replyTo" in fetched ? fetched.replyTo : undefined;
    if (!replyTo && m.attachments.length === 0) return undefined;
    return (async () => {
      const context: RequestContext = {};
      if (replyTo) context.replyTo = replyTo;
      if (m.attachments.length > 0) context.attachments = await readDiscordAttachments(m.attachments, this.config);
      return context;
    })();
  }

  /** A reply to the bot with the ping turned off reaches no one: say once in a while how to ask. */
  private async pingHint(m: IncomingDiscordMessage): Promise<void> {
    const first = await this.deps.redis
      .set(this.dkeys.pingHint(m.channelId, m.author.id), "1", "EX", PING_HINT_TTL_SECONDS, "NX")
      .catch(() => null);
    if (first) await this.api.replyTo(m.channelId, m.id, DISCORD_TEXT.pingHint);
  }

  // ================================================================ commands

  async ask(i: ChatInputCommandInteraction): Promise<void> {
    const place = await this.api.placeOf(i.channel, i.channelId, i.guildId);
    const access = this.access(place, i.user.id, rolesOf(i.member));
    if (!access.ok) {
      this.log.info({ reason: access.reason, userId: i.user.id, channelId: place.channelId }, "refused");
      await ephemeral(i, access.message);
      return;
    }
    const settings = await discordIntakeSettings(this.deps, this.log, place, i.user.id);
    if (!settings.enabled) {
      await ephemeral(i, settings.userMessage ?? DISCORD_TEXT.disabled);
      return;
    }
    const text = normalizeUserText(i.options.getString("prompt", true));
    const author = authorOf(i.user, i.member);
    const where: AnswerPlace = { place, replyTo: undefined, notes: [] };
    const refuse = (r: IntakeRefusal) => ephemeral(i, r.code === "EMPTY_MESSAGE" ? DISCORD_TEXT.emptyAsk : r.userMessage);
    // The interaction was claimed by the adapter before anything was answered.
    await this.intake.take(
      { text },
      {
        ...this.answering(
          where,
          async (r) => {
            // Refused once the question was shown: it is taken back, and the asker told privately.
            if (where.replyTo) await this.api.delete(where.place.channelId, where.replyTo);
            await ephemeralFollowUp(i, r.userMessage);
          },
          async (err) => {
            const why = cannotAnswerText("question", where.place.channelId, err, this.api.missingPermissions(where.place.channelId));
            await ephemeralFollowUp(i, why);
          },
        ),
        refuse,
        prepare: async () => {
          // The question stays visible to everyone in the channel; the answer replies to it.
          where.replyTo = await this.echo(i, author.name, text, place.channelId);
          if (settings.threadPerMention && place.guildId !== null && !place.isThread && where.replyTo) {
            const thread = await this.openThread(place, where.replyTo, text);
            if (thread) {
              where.place = thread;
              where.replyTo = undefined;
            }
          }
          return this.draft(`discord-${i.id}`, where.place, author, settings);
        },
      },
    );
  }

  /**
   * The visible echo of an `/ask` question (the interaction's response); its message id. When the
   * callback failed after Discord had saved it (a 5xx, then "already acknowledged" on the retry),
   * the saved echo is fetched; when it failed for good, the question is posted as a channel
   * message (once: a nonce) — so the answer always has its question to reply to.
   */
  private async echo(i: ChatInputCommandInteraction, name: string, text: string, channelId: string): Promise<string | undefined> {
    const content = echoText(name, text);
    try {
      const res = await i.reply({ content, allowedMentions: NO_MENTIONS, withResponse: true });
      return (res.resource?.message ?? (await i.fetchReply().catch(() => null)))?.id;
    } catch (err) {
      this.log.warn({ err, interactionId: i.id }, "the /ask callback failed; looking for the echo Discord may have saved");
    }
    const saved = await i.fetchReply().catch(() => null);
    if (saved) {
      // Acknowledged after all: private notes go as follow-ups from now on.
      (i as { replied: boolean }).replied = true;
      return saved.id;
    }
    return (await this.api.postMessage(channelId, content, `echo:${i.id}`).catch(() => undefined))?.id;
  }

  async reset(i: ChatInputCommandInteraction): Promise<void> {
    await resetConversation(i, this.deps, this.log, this.api, (place, userId, roles) => this.access(place, userId, roles));
  }

  // ================================================================ answering

  /** The request at `place`: its conversation by the place's memory scope, the place for the worker's settings. */
  private draft(requestId: string, place: DiscordPlace, author: ChatAuthor, settings: DiscordIntakeSettings | undefined): IntakeDraft {
    const scope = settings?.memoryScope ?? this.config.MEMORY_SCOPE;
    return { requestId, conversationKey: discordConversationAt(place, scope, author.id), author, place: chatPlaceOf(place) };
  }

  /**
   * The intake's placeholder steps on Discord: post it (place in line, Stop button) where `where`
   * says — retried while Discord may take it, `notPosted` explains when it will not — take back a
   * refused one ("⚠️ …" in it; deleted for a duplicate) or say why through `refused` when none was
   * posted, and once queued remember the conversation's latest answer and keep typing.
   */
  private answering(
    where: AnswerPlace,
    refused: (r: IntakeRefusal) => Promise<void>,
    notPosted: (err: PlaceholderNotPosted) => Promise<void>,
  ): Pick<IntakePlatform, "postPlaceholder" | "withdraw" | "queued"> {
    return {
      postPlaceholder: async (draft, ahead) => {
        const { place } = where;
        try {
          const content = placeholderText(ahead, where.notes);
          const placeholder = await this.api.postPlaceholder(place.channelId, content, draft.requestId, where.replyTo);
          await this.deps.redis
            .set(this.dkeys.replyMessage(placeholder.id), draft.requestId, "EX", REPLY_MESSAGE_TTL_SECONDS)
            .catch(() => undefined);
          return {
            platform: "discord",
            channelId: place.channelId,
            messageId: placeholder.id,
            requestId: draft.requestId,
            ...(place.guildId ? { workspaceId: place.guildId } : {}),
          } satisfies ReplyTarget;
        } catch (err) {
          this.log.warn({ err, channelId: place.channelId }, "could not post the placeholder");
          await notPosted(err instanceof PlaceholderNotPosted ? err : new PlaceholderNotPosted("failing", undefined, { cause: err }));
          return null;
        }
      },
      withdraw: async (reply, refusal) => {
        if (!reply) return refusal ? refused(refusal) : undefined;
        if (!refusal) return this.api.delete(reply.channelId, reply.messageId);
        await this.api
          .edit(reply.channelId, reply.messageId, { content: `⚠️ ${refusal.userMessage}`, components: [] })
          .catch((e) => this.log.warn({ err: e }, "could not explain the refusal"));
      },
      queued: async (request) => {
        await this.deps.redis
          .set(this.dkeys.latest(request.conversationKey), request.requestId, "EX", this.config.MEMORY_TTL_SECONDS)
          .catch(() => {});
        this.typing.keep(where.place.channelId, request.requestId);
      },
    };
  }

  /**
   * Bot messages were deleted on Discord (a moderator removed a reply): each one that belongs to a
   * reply stops it — generation ends, nothing more is posted, nothing of it is remembered.
   */
  async deleted(messageIds: readonly string[]): Promise<void> {
    if (messageIds.length === 0) return;
    const requestIds: Array<string | null> = await this.deps.redis
      .mget(...messageIds.map((id) => this.dkeys.replyMessage(id)))
      .catch(() => []);
    for (const requestId of new Set(requestIds.filter((r): r is string => !!r))) {
      // A picture's placeholder: its generation is stopped like a Stop press.
      const stop = isImageRequest(requestId) ? this.deps.imagine?.stop(requestId) : this.deps.ingestor.markGone(requestId);
      await Promise.resolve(stop).catch((err: unknown) => this.log.warn({ err, requestId }, "could not stop a deleted reply"));
      this.log.info({ requestId }, "a reply was deleted on Discord; stopping it");
    }
  }

  // ================================================================ threads and access

  /** Open a thread on `messageId` for the question; the conversation lives there. Null when not possible. */
  private async openThread(place: DiscordPlace, messageId: string, question: string): Promise<DiscordPlace | null> {
    try {
      const thread = await this.api.openThread(place.channelId, messageId, threadNameFor(question));
      await this.deps.redis.set(this.dkeys.botThread(thread.id), "1", "EX", this.config.MEMORY_TTL_SECONDS).catch(() => {});
      return { guildId: place.guildId, channelId: thread.id, parentId: place.channelId, isThread: true };
    } catch (err) {
      this.log.warn({ err, channelId: place.channelId }, "could not open a thread; answering in the channel");
      return null;
    }
  }

  /** A bot-opened thread stays one as long as its conversation is used (EXPIRE leaves other threads alone). */
  private async refreshBotThread(threadId: string): Promise<void> {
    await this.deps.redis.expire(this.dkeys.botThread(threadId), this.config.MEMORY_TTL_SECONDS).catch(() => {});
  }

  private async isBotThread(threadId: string): Promise<boolean> {
    return (await this.deps.redis.exists(this.dkeys.botThread(threadId)).catch(() => 0)) === 1;
  }

  access(place: DiscordPlace, userId: string, roleIds: readonly string[] | null): DiscordAccessDecision {
    return checkDiscordAccess(this.config, {
      guildId: place.guildId,
      channelId: place.channelId,
      parentId: place.parentId,
      userId,
      roleIds,
    });
  }
}
