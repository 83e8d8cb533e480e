/**
 * The Discord adapter: a discord.js gateway client that turns mentions, DMs, `/ask`, `/reset`
 * and the Stop / Regenerate buttons into queue operations. It posts the placeholder reply (with
 * its place in line and a Stop button) at once; a worker then edits that message through the
 * REST API (DiscordSink). Only the non-privileged intents are used: Discord still delivers the
 * text of messages that mention the bot, of DMs, and of the bot's own messages.
 *
 * A message is answered at most once: its id is claimed in Redis (SET NX) before anything is
 * posted, so a MESSAGE_CREATE replayed after a gateway resume is dropped silently (the
 * Ingestor's dedupe on the request id is the second line). The client keeps no message cache,
 * so such replays do reach this handler instead of being swallowed by discord.js's cache.
 */
import {
  type APIChannel,
  type APIInteractionGuildMember,
  type APIMessage,
  type ButtonInteraction,
  type Channel,
  type ChatInputCommandInteraction,
  Client,
  type ClientOptions,
  Events,
  GatewayIntentBits,
  type GuildMember,
  type Interaction,
  type Message,
  MessageFlags,
  Options,
  Partials,
  PermissionFlagsBits,
  type RESTPostAPIApplicationCommandsJSONBody,
  Routes,
  type User,
} from "discord.js";
import { InputRejectedError, RedisUnavailableError } from "../../src/errors.ts";
import type { AdapterDeps, RunningAdapter } from "../../src/intake/AdapterDeps.ts";
import type { Logger } from "../../src/logger.ts";
import { normalizeUserText, stripDiscordMention } from "../../src/text/normalizeUserText.ts";
import type { ChatAuthor, ChatRequest, ConversationKey, ReplyTarget } from "../../src/types.ts";
import { checkDiscordAccess, type DiscordAccessDecision } from "./checkDiscordAccess.ts";
import { NO_MENTIONS, parseButtonId, regenerateRow, stopRow } from "./discordComponents.ts";
import { type DiscordPlace, discordConversationKey, placeholderText, threadNameFor } from "./discordConversation.ts";

// ---- tunables
/** How long a message or interaction id is remembered to drop replays. */
const DEDUPE_TTL_SECONDS = 24 * 3600;
/** The typing indicator lasts ~10 s on Discord; renew it this often while a reply is pending. */
const TYPING_INTERVAL_MS = 8000;
/** Stop renewing the typing indicator after this long, whatever happens. */
const TYPING_MAX_MS = 5 * 60_000;
/** At most one "I can't read that" hint per bot thread in this window. */
const THREAD_HINT_TTL_SECONDS = 600;
/** The longest `/ask` prompt Discord lets a string option carry. */
const DISCORD_OPTION_MAX = 6000;
/** How much of an `/ask` prompt the visible echo shows. */
const ECHO_MAX = 1800;

// ---- what users are told
const UNAVAILABLE = "I can't take messages right now — please try again in a minute.";
const SOMETHING_WRONG = "Sorry — something went wrong on my side. Please try again.";
const ATTACHMENTS_IGNORED = "attachments are ignored — I can only read text";
const ONLY_ATTACHMENTS = "I can only read text — attachments are ignored. Write your question in the message.";
const THREAD_HINT = "I can only read messages here that mention me or reply to one of mine.";
const UNKNOWN_COMMAND = "Unknown command.";
const REGEN_NOT_LATEST = "Only the latest answer of this conversation can be regenerated.";
const REGEN_START = "⏳ Regenerating…";

export interface DiscordAdapterOptions {
  /** Extra discord.js client options (tests: cache settings, timeouts). */
  clientOptions?: Partial<ClientOptions>;
  /** How often the typing indicator is renewed while a reply is pending (ms). */
  typingIntervalMs?: number;
}

export type RunningDiscordAdapter = RunningAdapter & { client: Client };

/** The slash commands, registered (bulk overwrite) at start. */
export function discordCommands(opts: { allowDms: boolean; maxInputChars: number }): RESTPostAPIApplicationCommandsJSONBody[] {
  const contexts = opts.allowDms ? [0, 1] : [0];
  return [
    {
      name: "ask",
      description: "Ask the model a question (the same as mentioning me)",
      options: [
        {
          type: 3,
          name: "prompt",
          description: "Your question",
          required: true,
          max_length: Math.min(DISCORD_OPTION_MAX, opts.maxInputChars),
        },
      ],
      contexts,
      integration_types: [0],
    },
    { name: "reset", description: "Forget this channel's (or thread's, or DM's) conversation", contexts, integration_types: [0] },
  ] as RESTPostAPIApplicationCommandsJSONBody[];
}

export async function startDiscordAdapter(deps: AdapterDeps, opts: DiscordAdapterOptions = {}): Promise<RunningDiscordAdapter> {
  const adapter = new DiscordAdapter(deps, opts);
  await adapter.start();
  return {
    platform: "discord",
    client: adapter.client,
    ready: () => adapter.isReady(),
    close: () => adapter.close(),
  };
}

/** Redis keys of the Discord adapter (under REDIS_PREFIX). */
class DiscordKeys {
  constructor(private readonly prefix: string) {}
  /** A message / interaction already taken (replay dedupe). */
  seen(id: string): string {
    return `${this.prefix}:discord:seen:${id}`;
  }
  /** A thread the bot opened for a question: the conversation continues there without mentions. */
  botThread(threadId: string): string {
    return `${this.prefix}:discord:thread:${threadId}`;
  }
  /** The request whose answer is the newest of a conversation (only that one can be regenerated). */
  latest(conv: ConversationKey): string {
    return `${this.prefix}:discord:latest:${conv}`;
  }
  threadHint(threadId: string): string {
    return `${this.prefix}:discord:hint:${threadId}`;
  }
}

interface AnswerParams {
  requestId: string;
  place: DiscordPlace;
  /** The message the placeholder replies to (same channel), if any. */
  replyTo?: string;
  text: string;
  author: ChatAuthor;
  notes?: string[];
}

class DiscordAdapter {
  readonly client: Client;
  private readonly log: Logger;
  private readonly dkeys: DiscordKeys;
  private readonly typingTimers = new Set<NodeJS.Timeout>();
  private connected = false;
  private closed = false;

  constructor(
    private readonly deps: AdapterDeps,
    private readonly opts: DiscordAdapterOptions,
  ) {
    const { config } = deps;
    this.log = deps.logger.child({ platform: "discord" });
    this.dkeys = new DiscordKeys(config.REDIS_PREFIX);
    const intents = [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.DirectMessages];
    if (config.DISCORD_MESSAGE_CONTENT_INTENT) intents.push(GatewayIntentBits.MessageContent);
    this.client = new Client({
      intents,
      partials: [Partials.Channel],
      // No message cache: the bot never reads old messages, and discord.js would silently drop a
      // replayed MESSAGE_CREATE of a cached message — replays must reach the dedupe below.
      makeCache: Options.cacheWithLimits({ ...Options.DefaultMakeCacheSettings, MessageManager: 0 }),
      allowedMentions: { parse: [], repliedUser: false },
      failIfNotExists: false,
      ...(config.DISCORD_API_URL ? { rest: { api: config.DISCORD_API_URL } } : {}),
      ...opts.clientOptions,
    });
  }

  private get config() {
    return this.deps.config;
  }

  isReady(): boolean {
    return this.connected && this.client.isReady() && !this.closed;
  }

  async start(): Promise<void> {
    const { client } = this;
    if (!this.config.DISCORD_TOKEN) throw new Error("DISCORD_TOKEN is not set");
    client.on(
      Events.MessageCreate,
      (m) => void this.onMessage(m).catch((err) => this.log.error({ err, messageId: m.id }, "message handler failed")),
    );
    client.on(
      Events.InteractionCreate,
      (i) => void this.onInteraction(i).catch((err) => this.log.error({ err, interactionId: i.id }, "interaction handler failed")),
    );
    client.on(Events.ShardReady, () => (this.connected = true));
    client.on(Events.ShardResume, () => (this.connected = true));
    client.on(Events.ShardDisconnect, () => (this.connected = false));
    client.on(Events.ShardReconnecting, () => (this.connected = false));
    client.on(Events.Error, (err) => this.log.error({ err }, "discord client error"));
    client.on(Events.Warn, (msg) => this.log.warn({ msg }, "discord client warning"));
    const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
    await client.login(this.config.DISCORD_TOKEN);
    await ready;
    this.connected = true;
    await this.registerCommands();
    this.log.info({ user: client.user?.tag, guilds: client.guilds.cache.size }, "discord adapter ready");
  }

  private async registerCommands(): Promise<void> {
    const defs = discordCommands({ allowDms: this.config.DISCORD_ALLOW_DMS, maxInputChars: this.config.MAX_INPUT_CHARS });
    const guild = this.config.DISCORD_COMMAND_GUILD;
    try {
      if (guild) await this.client.application!.commands.set(defs, guild);
      else await this.client.application!.commands.set(defs);
      this.log.info({ scope: guild ? `guild ${guild}` : "global" }, "slash commands registered");
    } catch (err) {
      this.log.error({ err }, "could not register the slash commands; mentions still work");
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.typingTimers) clearInterval(t);
    this.typingTimers.clear();
    await this.client.destroy();
  }

  // ================================================================ messages

  private async onMessage(message: Message): Promise<void> {
    if (this.closed || message.author.bot || message.webhookId || message.system) return;
    const me = this.client.user!.id;
    const inDm = message.guildId === null;
    const mentioned = message.mentions.users.has(me);
    // In a guild, only mentions count — except in a thread the bot opened for a question.
    let inBotThread = false;
    if (!inDm && !mentioned) {
      if (!this.config.DISCORD_THREAD_PER_MENTION || !message.channel.isThread()) return;
      inBotThread = await this.isBotThread(message.channelId);
      if (!inBotThread) return;
    }
    const place = await this.placeOf(message.channel, message.channelId, message.guildId);
    if (!(await this.claim(message.id, () => this.replyTo(message, UNAVAILABLE)))) return;

    const access = this.access(place, message.author.id, message.member ? [...message.member.roles.cache.keys()] : null);
    if (!access.ok) {
      this.log.info({ reason: access.reason, userId: message.author.id, channelId: place.channelId }, "refused");
      await this.replyTo(message, access.message);
      return;
    }
    const text = this.userText(message);
    const hasAttachments = message.attachments.size > 0;
    if (inBotThread && !mentioned && text.length === 0 && !hasAttachments) {
      // Without the Message Content intent Discord does not show us what was written.
      const first = await this.deps.redis
        .set(this.dkeys.threadHint(place.channelId), "1", "EX", THREAD_HINT_TTL_SECONDS, "NX")
        .catch(() => null);
      if (first) await this.replyTo(message, THREAD_HINT);
      return;
    }
    try {
      this.deps.ingestor.validate(text);
    } catch (err) {
      if (!(err instanceof InputRejectedError)) throw err;
      await this.replyTo(message, text.length === 0 && hasAttachments ? ONLY_ATTACHMENTS : err.userMessage);
      return;
    }

    let target = place;
    let replyTo: string | undefined = message.id;
    if (this.config.DISCORD_THREAD_PER_MENTION && !inDm && !place.isThread) {
      const thread = await this.openThread(place, message.id, text);
      if (thread) {
        target = thread;
        replyTo = undefined; // the question is the thread's starter message
      }
    } else if (this.config.DISCORD_THREAD_PER_MENTION && place.isThread) {
      await this.refreshBotThread(place.channelId);
    }
    await this.answer({
      requestId: `discord-${message.id}`,
      place: target,
      replyTo,
      text,
      author: authorOf(message.author, message.member),
      notes: hasAttachments ? [ATTACHMENTS_IGNORED] : [],
    });
  }

  /** The message text for the model: the bot's mention removed, other mentions as readable names. */
  private userText(message: Message): string {
    let text = stripDiscordMention(message.content, this.client.user!.id);
    text = text.replace(/<@!?(\d+)>/g, (whole, id: string) => {
      const member = message.mentions.members?.get(id);
      const user = message.mentions.users.get(id);
      return member ? `@${member.displayName}` : user ? `@${user.displayName}` : whole;
    });
    text = text.replace(/<@&(\d+)>/g, (whole, id: string) => {
      const role = message.mentions.roles.get(id);
      return role ? `@${role.name}` : whole;
    });
    text = text.replace(/<#(\d+)>/g, (whole, id: string) => {
      const ch = this.client.channels.cache.get(id);
      return ch && "name" in ch && ch.name ? `#${ch.name}` : whole;
    });
    return normalizeUserText(text);
  }

  // ================================================================ interactions

  private async onInteraction(i: Interaction): Promise<void> {
    if (this.closed) return;
    if (i.isChatInputCommand()) {
      if (i.commandName === "ask") return this.onAsk(i);
      if (i.commandName === "reset") return this.onReset(i);
      await ephemeral(i, UNKNOWN_COMMAND);
      return;
    }
    if (i.isButton()) return this.onButton(i);
    if (i.isRepliable()) await ephemeral(i, UNKNOWN_COMMAND);
  }

  private async onAsk(i: ChatInputCommandInteraction): Promise<void> {
    const place = await this.placeOf(i.channel, i.channelId, i.guildId);
    const access = this.access(place, i.user.id, rolesOf(i.member));
    if (!access.ok) {
      this.log.info({ reason: access.reason, userId: i.user.id, channelId: place.channelId }, "refused");
      await ephemeral(i, access.message);
      return;
    }
    const text = normalizeUserText(i.options.getString("prompt", true));
    try {
      this.deps.ingestor.validate(text);
    } catch (err) {
      if (!(err instanceof InputRejectedError)) throw err;
      await ephemeral(i, err.userMessage);
      return;
    }
    if (!(await this.claim(i.id, () => ephemeral(i, UNAVAILABLE)))) return;
    const author = authorOf(i.user, i.member);
    // The question stays visible to everyone in the channel; the answer replies to it.
    const res = await i.reply({ content: echoText(author.name, text), allowedMentions: NO_MENTIONS, withResponse: true });
    const echo = res.resource?.message ?? (await i.fetchReply().catch(() => null));
    let target = place;
    let replyTo = echo?.id;
    if (this.config.DISCORD_THREAD_PER_MENTION && place.guildId !== null && !place.isThread && echo) {
      const thread = await this.openThread(place, echo.id, text);
      if (thread) {
        target = thread;
        replyTo = undefined;
      }
    }
    const ok = await this.answer({ requestId: `discord-${i.id}`, place: target, replyTo, text, author });
    if (!ok)
      await i
        .followUp({
          content: "I couldn't post my answer in this channel — do I have permission to send messages here?",
          flags: MessageFlags.Ephemeral,
        })
        .catch(() => {});
  }

  private async onReset(i: ChatInputCommandInteraction): Promise<void> {
    const place = await this.placeOf(i.channel, i.channelId, i.guildId);
    const access = this.access(place, i.user.id, rolesOf(i.member));
    if (!access.ok) {
      await ephemeral(i, access.message);
      return;
    }
    const conv = discordConversationKey(place);
    try {
      await this.deps.memory.reset(conv);
      await this.deps.redis.del(this.dkeys.latest(conv));
    } catch (err) {
      this.log.warn({ err, conversation: conv }, "reset failed");
      await ephemeral(i, UNAVAILABLE);
      return;
    }
    this.log.info({ conversation: conv, userId: i.user.id }, "conversation reset");
    const what =
      place.guildId === null ? "our conversation" : place.isThread ? "this thread's conversation" : "this channel's conversation";
    await ephemeral(i, `🧹 Done — I've forgotten ${what}.`);
  }

  private async onButton(i: ButtonInteraction): Promise<void> {
    const parsed = parseButtonId(i.customId);
    if (!parsed) {
      await ephemeral(i, "Unknown button.");
      return;
    }
    const place = await this.placeOf(i.channel, i.channelId, i.guildId);
    const access = this.access(place, i.user.id, rolesOf(i.member));
    if (!access.ok) {
      await ephemeral(i, access.message);
      return;
    }
    let request: ChatRequest | null;
    try {
      const raw = await this.deps.redis.get(this.deps.keys.request(parsed.requestId));
      request = raw ? (JSON.parse(raw) as ChatRequest) : null;
    } catch {
      await ephemeral(i, UNAVAILABLE);
      return;
    }
    // In a shared channel only the asker (or a moderator) may stop or regenerate an answer.
    if (request && request.author.id !== i.user.id && !i.memberPermissions?.has(PermissionFlagsBits.ManageMessages)) {
      await ephemeral(i, `Only ${request.author.name}, who asked, can ${parsed.action === "stop" ? "stop" : "regenerate"} this answer.`);
      return;
    }
    if (parsed.action === "stop") {
      try {
        await this.deps.ingestor.stop(parsed.requestId);
      } catch {
        await ephemeral(i, UNAVAILABLE);
        return;
      }
      this.log.info({ requestId: parsed.requestId, userId: i.user.id }, "stop requested");
      await i.update({ components: [], allowedMentions: NO_MENTIONS });
      return;
    }
    await this.regenerate(i, place, parsed.requestId, request);
  }

  /** Regenerate: a new request that replaces the conversation's last answer, streamed into the same message(s). */
  private async regenerate(i: ButtonInteraction, place: DiscordPlace, oldId: string, old: ChatRequest | null): Promise<void> {
    const { redis, keys, ingestor } = this.deps;
    const conv = old?.conversationKey ?? discordConversationKey(place);
    let latest: string | null;
    try {
      latest = await redis.get(this.dkeys.latest(conv));
    } catch {
      await ephemeral(i, UNAVAILABLE);
      return;
    }
    if (latest !== oldId) {
      await ephemeral(i, REGEN_NOT_LATEST);
      return;
    }
    if (!(await this.claim(i.id, () => ephemeral(i, UNAVAILABLE)))) return;
    const requestId = `discord-r${i.id}`;
    const first: ReplyTarget = old?.reply ?? {
      platform: "discord",
      channelId: i.channelId,
      messageId: i.message.id,
      ...(i.guildId ? { workspaceId: i.guildId } : {}),
    };
    const target: ReplyTarget = { ...first, requestId };
    // The earlier answer's overflow messages are reused (or emptied) by the new one.
    const previous = await redis.hget(keys.reply(oldId), "messages").catch(() => null);
    if (previous) {
      const messages = (JSON.parse(previous) as ReplyTarget[]).map((t) => ({ ...t, requestId }));
      await redis
        .multi()
        .hset(keys.reply(requestId), "messages", JSON.stringify(messages))
        .expire(keys.reply(requestId), DEDUPE_TTL_SECONDS)
        .exec();
    }
    const clickedIsFirst = i.message.id === first.messageId;
    const oldContent = i.message.content;
    // Show it before queueing, so no worker edit can be overwritten by this one.
    if (clickedIsFirst) {
      await i.update({ content: REGEN_START, components: [stopRow(requestId)], allowedMentions: NO_MENTIONS });
    } else {
      await i.update({ components: [], allowedMentions: NO_MENTIONS });
      await this.client.rest
        .patch(Routes.channelMessage(first.channelId, first.messageId), {
          body: { components: [stopRow(requestId)], allowed_mentions: NO_MENTIONS },
        })
        .catch((err) => this.log.warn({ err }, "could not put the Stop button on the answer"));
    }
    const request: ChatRequest = {
      requestId,
      conversationKey: conv,
      author: authorOf(i.user, i.member),
      text: old?.text ?? "(regenerate)",
      receivedAt: Date.now(),
      reply: target,
      regenerate: true,
    };
    try {
      await ingestor.ingest(request);
      await redis.set(this.dkeys.latest(conv), requestId, "EX", this.config.MEMORY_TTL_SECONDS);
      this.log.info({ requestId, replaces: oldId, conversation: conv }, "regenerate queued");
    } catch (err) {
      // Put the old answer back as it was, and say why.
      const restore: Record<string, unknown> = { components: [regenerateRow(oldId)], allowed_mentions: NO_MENTIONS };
      if (clickedIsFirst) restore.content = oldContent || "…";
      await this.client.rest.patch(Routes.channelMessage(first.channelId, first.messageId), { body: restore }).catch(() => {});
      if (err instanceof InputRejectedError && err.code === "DUPLICATE_MESSAGE") return;
      await i.followUp({ content: this.explain(err), flags: MessageFlags.Ephemeral, allowedMentions: NO_MENTIONS }).catch(() => {});
    }
  }

  // ================================================================ answering

  /**
   * Post the placeholder (place in line, Stop button) and queue the request. Returns false when
   * the placeholder could not be posted at all.
   */
  private async answer(p: AnswerParams): Promise<boolean> {
    const { redis, keys, ingestor, config } = this.deps;
    const conv = discordConversationKey(p.place);
    const ahead = await redis.zcard(keys.inbox(conv)).catch(() => 0);
    let placeholder: APIMessage;
    try {
      placeholder = (await this.client.rest.post(Routes.channelMessages(p.place.channelId), {
        body: {
          content: placeholderText(ahead, p.notes),
          components: [stopRow(p.requestId)],
          allowed_mentions: NO_MENTIONS,
          ...(p.replyTo ? { message_reference: { message_id: p.replyTo, fail_if_not_exists: false } } : {}),
        },
      })) as APIMessage;
    } catch (err) {
      this.log.warn({ err, channelId: p.place.channelId }, "could not post the placeholder");
      return false;
    }
    const reply: ReplyTarget = {
      platform: "discord",
      channelId: p.place.channelId,
      messageId: placeholder.id,
      requestId: p.requestId,
      ...(p.place.guildId ? { workspaceId: p.place.guildId } : {}),
    };
    const request: ChatRequest = {
      requestId: p.requestId,
      conversationKey: conv,
      author: p.author,
      text: p.text,
      receivedAt: Date.now(),
      reply,
    };
    try {
      await ingestor.ingest(request);
    } catch (err) {
      if (err instanceof InputRejectedError && err.code === "DUPLICATE_MESSAGE") {
        await this.client.rest.delete(Routes.channelMessage(reply.channelId, reply.messageId)).catch(() => {});
        return true;
      }
      if (!(err instanceof InputRejectedError) && !(err instanceof RedisUnavailableError)) this.log.error({ err }, "ingest failed");
      else this.log.info({ code: (err as InputRejectedError).code, conversation: conv }, "not queued");
      await this.client.rest
        .patch(Routes.channelMessage(reply.channelId, reply.messageId), {
          body: { content: `⚠️ ${this.explain(err)}`, components: [], allowed_mentions: NO_MENTIONS },
        })
        .catch((e) => this.log.warn({ err: e }, "could not explain the refusal"));
      return true;
    }
    await redis.set(this.dkeys.latest(conv), p.requestId, "EX", config.MEMORY_TTL_SECONDS).catch(() => {});
    this.log.info({ requestId: p.requestId, conversation: conv, ahead }, "queued");
    this.keepTyping(p.place.channelId, p.requestId);
    return true;
  }

  private explain(err: unknown): string {
    if (err instanceof InputRejectedError) return err.userMessage;
    if (err instanceof RedisUnavailableError) return UNAVAILABLE;
    return SOMETHING_WRONG;
  }

  /** "… is typing" while the reply is queued or streaming (renewed until it is done). */
  private keepTyping(channelId: string, requestId: string): void {
    const started = Date.now();
    const every = this.opts.typingIntervalMs ?? TYPING_INTERVAL_MS;
    let timer: NodeJS.Timeout | undefined;
    const stop = () => {
      if (timer) {
        clearInterval(timer);
        this.typingTimers.delete(timer);
      }
    };
    const tick = async () => {
      const state = await this.deps.redis.hget(this.deps.keys.reply(requestId), "state").catch(() => null);
      if (this.closed || state === null || state === "done" || state === "failed" || Date.now() - started > TYPING_MAX_MS) return stop();
      await this.client.rest.post(Routes.channelTyping(channelId)).catch(() => {});
    };
    timer = setInterval(() => void tick(), every);
    timer.unref();
    this.typingTimers.add(timer);
    void tick();
  }

  /** Open a thread on `messageId` for the question; the conversation lives there. Null when not possible. */
  private async openThread(place: DiscordPlace, messageId: string, question: string): Promise<DiscordPlace | null> {
    try {
      const thread = (await this.client.rest.post(Routes.threads(place.channelId, messageId), {
        body: { name: threadNameFor(question), auto_archive_duration: 1440 },
      })) as APIChannel;
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

  // ================================================================ helpers

  /**
   * Claim a message / interaction id; false for a replay (silently dropped) or when Redis is
   * down (then `onUnavailable` tells the user).
   */
  private async claim(id: string, onUnavailable: () => Promise<unknown>): Promise<boolean> {
    try {
      const ok = await this.deps.redis.set(this.dkeys.seen(id), "1", "EX", DEDUPE_TTL_SECONDS, "NX");
      if (ok === null) this.log.info({ id }, "duplicate dispatch dropped");
      return ok !== null;
    } catch (err) {
      this.log.warn({ err }, "Redis unavailable");
      await onUnavailable().catch(() => {});
      return false;
    }
  }

  private access(place: DiscordPlace, userId: string, roleIds: readonly string[] | null): DiscordAccessDecision {
    return checkDiscordAccess(this.config, {
      guildId: place.guildId,
      channelId: place.channelId,
      parentId: place.parentId,
      userId,
      roleIds,
    });
  }

  /** Where a message or interaction happened; fetches a thread's parent when it is not cached. */
  private async placeOf(channel: Channel | null, channelId: string | null, guildId: string | null): Promise<DiscordPlace> {
    const id = channelId ?? channel?.id ?? "unknown";
    if (guildId === null) return { guildId: null, channelId: id, parentId: null, isThread: false };
    let ch: Channel | null = channel;
    if (!ch || ch.partial || (ch.isThread() && !ch.parentId)) ch = await this.client.channels.fetch(id).catch(() => ch);
    if (ch?.isThread()) return { guildId, channelId: id, parentId: ch.parentId, isThread: true };
    return { guildId, channelId: id, parentId: null, isThread: false };
  }

  /** A short reply to a message (refusals, hints): never pings anyone. */
  private async replyTo(message: Message, content: string): Promise<void> {
    await this.client.rest
      .post(Routes.channelMessages(message.channelId), {
        body: { content, allowed_mentions: NO_MENTIONS, message_reference: { message_id: message.id, fail_if_not_exists: false } },
      })
      .catch((err) => this.log.warn({ err, channelId: message.channelId }, "could not reply"));
  }
}

function authorOf(user: User, member: GuildMember | APIInteractionGuildMember | null): ChatAuthor {
  const nick = member && "displayName" in member ? member.displayName : member?.nick;
  return { id: user.id, name: nick || user.displayName };
}

function rolesOf(member: GuildMember | APIInteractionGuildMember | null): string[] | null {
  if (!member) return null;
  return Array.isArray(member.roles) ? member.roles : [...member.roles.cache.keys()];
}

async function ephemeral(i: ChatInputCommandInteraction | ButtonInteraction | Interaction, content: string): Promise<void> {
  if (!i.isRepliable()) return;
  const payload = { content, flags: MessageFlags.Ephemeral as const, allowedMentions: NO_MENTIONS };
  if (i.replied || i.deferred) await i.followUp(payload);
  else await i.reply(payload);
}

/** The visible echo of an `/ask` question. */
function echoText(name: string, question: string): string {
  let shown = question;
  if (shown.length > ECHO_MAX) {
    const cut = /[\ud800-\udbff]/.test(shown[ECHO_MAX - 1]!) ? ECHO_MAX - 1 : ECHO_MAX;
    shown = `${shown.slice(0, cut)}…`;
  }
  return `**${escapeMarkdown(name)}** asked:\n>>> ${shown}`;
}

function escapeMarkdown(s: string): string {
  return s.replace(/([\\*_~`|])/g, "\\$1");
}
