/**
 * The Discord adapter's transport: a discord.js gateway client (intents, cache, REST base URL),
 * gateway events turned into calls on DiscordConversations (mentions, DMs, `/ask`, `/reset`) and
 * DiscordButtons (Stop, Regenerate), the slash commands' registration, and readiness. A worker then
 * edits the placeholder through the REST API alone (DiscordSink).
 *
 * Only the non-privileged intents are used (the Message Content intent when
 * DISCORD_MESSAGE_CONTENT_INTENT is set): Discord still delivers the text of messages that mention
 * the bot, of DMs, and of the bot's own messages. The client keeps no message cache, so a
 * MESSAGE_CREATE replayed after a gateway resume reaches the conversations' dedupe instead of being
 * swallowed by discord.js's cache; MESSAGE_DELETE (and _BULK) are read raw for the same reason: a
 * deleted bot reply stops its generation. The REST client shares its rate-limit knowledge with the
 * workers' (DiscordRateLimits).
 */
import { Client, type ClientOptions, Events, GatewayIntentBits, type Interaction, type Message, Options, Partials } from "discord.js";
import type { DiscordShards } from "../../src/config/discordShards.ts";
import type { AdapterDeps, RunningAdapter } from "../../src/intake/AdapterDeps.ts";
import { DiscordKeys } from "../../src/keys.ts";
import type { Logger } from "../../src/logger.ts";
import { SharedRateLimits } from "../../src/stream/SharedRateLimits.ts";
import { normalizeUserText, stripDiscordMention } from "../../src/text/normalizeUserText.ts";
import { DiscordApi } from "./DiscordApi.ts";
import { DiscordButtons } from "./DiscordButtons.ts";
import { DiscordConversations } from "./DiscordConversations.ts";
import { DiscordImagine, isImageRequest } from "./DiscordImagine.ts";
import { DiscordSettingsCommand } from "./DiscordSettingsCommand.ts";
import { DiscordTyping } from "./DiscordTyping.ts";
import { discordCommands } from "./discordCommands.ts";
import { parseButtonId } from "./discordComponents.ts";
import { runHelp } from "./discordHelp.ts";
import { authorOf, ephemeral } from "./discordInteraction.ts";
import { DISCORD_TEXT } from "./discordMessages.ts";
import { DiscordRateLimits } from "./discordRateLimits.ts";
import { guardResumeRace } from "./guardResumeRace.ts";

export interface DiscordAdapterOptions {
  /** Extra discord.js client options (tests: cache settings, timeouts). */
  clientOptions?: Partial<ClientOptions>;
  /** How often the typing indicator is renewed while a reply is pending (ms). */
  typingIntervalMs?: number;
  /** How long a placeholder that cannot be posted yet is retried (ms; default 60 s). */
  placeholderRetryMs?: number;
}

export type RunningDiscordAdapter = RunningAdapter & { client: Client };

/** discord.js's shard options for `DISCORD_SHARDS` (none: one shard). */
export function shardOptions(shards: DiscordShards | undefined): Partial<ClientOptions> {
  if (!shards) return {};
  if (shards.ids === "auto") return { shards: "auto" };
  return { shards: shards.ids, shardCount: shards.count };
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

class DiscordAdapter {
  readonly client: Client;
  private readonly log: Logger;
  private readonly api: DiscordApi;
  private readonly typing: DiscordTyping;
  private readonly conversations: DiscordConversations;
  private readonly buttons: DiscordButtons;
  private readonly settings: DiscordSettingsCommand;
  private readonly imagine: DiscordImagine;
  private readonly dkeys: DiscordKeys;
  private connected = false;
  /** Shards of this process that are disconnected or reconnecting right now. */
  private readonly down = new Set<number>();
  private closed = false;

  constructor(
    private readonly deps: AdapterDeps,
    opts: DiscordAdapterOptions,
  ) {
    const { config } = deps;
    this.log = deps.logger.child({ platform: "discord" });
    this.dkeys = new DiscordKeys(deps.keys);
    const intents = [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.DirectMessages];
    if (config.DISCORD_MESSAGE_CONTENT_INTENT) intents.push(GatewayIntentBits.MessageContent);
    this.client = new Client({
      intents,
      partials: [Partials.Channel],
      // No message cache: the bot never reads old messages, and discord.js would silently drop a
      // replayed MESSAGE_CREATE of a cached message — replays must reach the dedupe.
      makeCache: Options.cacheWithLimits({ ...Options.DefaultMakeCacheSettings, MessageManager: 0 }),
      allowedMentions: { parse: [], repliedUser: false },
      failIfNotExists: false,
      ...(config.DISCORD_API_URL ? { rest: { api: config.DISCORD_API_URL } } : {}),
      ...shardOptions(config.DISCORD_SHARDS),
      ...opts.clientOptions,
    });
    const limits = new DiscordRateLimits(new SharedRateLimits(deps.redis, deps.keys));
    limits.attach(this.client.rest);
    guardResumeRace(this.client, this.log);
    const api = new DiscordApi(this.client, this.log, limits, opts.placeholderRetryMs);
    this.api = api;
    this.typing = new DiscordTyping(deps.redis, deps.keys, (channelId) => api.typing(channelId), opts.typingIntervalMs);
    this.conversations = new DiscordConversations(deps, this.log, api, this.typing);
    this.buttons = new DiscordButtons(deps, this.log, api, this.conversations.intake, (place, userId, roleIds) =>
      this.conversations.access(place, userId, roleIds),
    );
    this.settings = new DiscordSettingsCommand(deps, this.log, api);
    this.imagine = new DiscordImagine(deps, this.log, api, (place, userId, roleIds) => this.conversations.access(place, userId, roleIds));
  }

  private get config() {
    return this.deps.config;
  }

  isReady(): boolean {
    return this.connected && this.down.size === 0 && this.client.isReady() && !this.closed;
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
    client.on(Events.Raw, (packet: { t?: string; d?: { id?: string; ids?: string[] } }) => {
      if (this.closed || (packet.t !== "MESSAGE_DELETE" && packet.t !== "MESSAGE_DELETE_BULK")) return;
      const ids = packet.d?.ids ?? (packet.d?.id ? [packet.d.id] : []);
      void this.conversations.deleted(ids).catch((err) => this.log.warn({ err }, "deletion handler failed"));
    });
    const up = (shard: number) => this.down.delete(shard);
    const lost = (shard: number) => {
      this.down.add(shard);
      this.log.warn({ shard }, "gateway shard disconnected; discord.js reconnects it");
    };
    client.on(Events.ShardReady, up);
    client.on(Events.ShardResume, up);
    client.on(Events.ShardDisconnect, (_event, shard) => lost(shard));
    client.on(Events.ShardReconnecting, lost);
    client.on(Events.Error, (err) => this.log.error({ err }, "discord client error"));
    client.on(Events.Warn, (msg) => this.log.warn({ msg }, "discord client warning"));
    const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
    await client.login(this.config.DISCORD_TOKEN);
    await ready;
    this.connected = true;
    const shards = client.options.shards;
    // One process registers the commands: the one with shard 0 (every process when unsharded).
    if (!Array.isArray(shards) || shards.includes(0)) await this.registerCommands();
    this.log.info(
      { user: client.user?.tag, guilds: client.guilds.cache.size, shards, shardCount: client.options.shardCount },
      "discord adapter ready",
    );
  }

  private async registerCommands(): Promise<void> {
    const defs = discordCommands(this.config);
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
    this.typing.close();
    await this.client.destroy();
  }

  /** A person's message (not a bot's, a webhook's or a system message), normalized for the conversations. */
  private async onMessage(message: Message): Promise<void> {
    if (this.closed || message.author.bot || message.webhookId || message.system) return;
    await this.conversations.message({
      id: message.id,
      channelId: message.channelId,
      guildId: message.guildId,
      inThread: message.channel.isThread(),
      mentionsBot: message.mentions.users.has(this.client.user!.id),
      author: authorOf(message.author, message.member),
      roleIds: message.member ? [...message.member.roles.cache.keys()] : null,
      text: this.userText(message),
      attachments: message.attachments.map((a) => ({
        url: a.url,
        name: a.name,
        size: a.size,
        ...(a.contentType ? { mimeType: a.contentType } : {}),
      })),
      ...(message.reference?.messageId
        ? { reference: { channelId: message.reference.channelId, messageId: message.reference.messageId } }
        : {}),
      repliesToBot: message.reference !== null && message.mentions.repliedUser?.id === this.client.user!.id,
      place: () => this.api.placeOf(message.channel, message.channelId, message.guildId),
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

  private async onInteraction(i: Interaction): Promise<void> {
    if (this.closed) return;
    if (i.isAutocomplete()) {
      if (i.commandName === "settings") await this.settings.autocomplete(i);
      else await i.respond([]).catch(() => undefined);
      return;
    }
    if (i.isChatInputCommand() || i.isButton()) {
      // Claimed before anything is answered: an interaction replayed after a resume does nothing
      // (a second callback would be refused with 40060 anyway, and /reset must not wipe again).
      const claim = await this.conversations.intake.claim(this.dkeys.seen(i.id));
      if (claim === "replay") return;
      if (claim === "unavailable") return ephemeral(i, DISCORD_TEXT.unavailable);
    }
    if (i.isChatInputCommand()) {
      if (i.commandName === "ask") return this.conversations.ask(i);
      if (i.commandName === "reset") return this.conversations.reset(i);
      if (i.commandName === "help") return runHelp(i, this.deps, this.api, this.log);
      if (i.commandName === "settings") return this.settings.run(i);
      if (i.commandName === "imagine") return this.imagine.command(i);
      await ephemeral(i, DISCORD_TEXT.unknownCommand);
      return;
    }
    if (i.isButton()) {
      const parsed = parseButtonId(i.customId);
      if (parsed && isImageRequest(parsed.requestId)) return this.imagine.click(i, parsed.action, parsed.requestId);
      return this.buttons.click(i);
    }
    if (i.isRepliable()) await ephemeral(i, DISCORD_TEXT.unknownCommand);
  }
}
