/**
 * The Discord adapter's calls to Discord outside the gateway events: REST writes (short replies,
 * the placeholder, edits, deletes, typing, threads, a DM when a channel cannot be answered) with
 * mentions disabled, and where a message or interaction happened (a thread's parent is fetched
 * when the cache does not have it). Conversation logic never builds a route itself.
 *
 * Every message created carries a nonce with `enforce_nonce` (from the request, or from what it
 * answers), so a create the REST client retries after a 5xx Discord had saved returns the same
 * message. Before each write the rate limits shared with the workers (DiscordRateLimits) are
 * consulted. A placeholder that cannot be posted yet (rate limited, server errors, network) is
 * retried with backoff for up to `placeholderRetryMs`; a refusal (no permission) is not retried.
 */
import { setTimeout as sleep } from "node:timers/promises";
import {
  type APIChannel,
  type APIMessage,
  type Channel,
  type Client,
  DiscordAPIError,
  PermissionFlagsBits,
  type PermissionResolvable,
  Routes,
} from "discord.js";
import type { Logger } from "../../src/logger.ts";
import { NO_MENTIONS, nonceFor, replyNonce, stopRow } from "./discordComponents.ts";
import type { DiscordPlace } from "./discordConversation.ts";
import type { DiscordRateLimits } from "./discordRateLimits.ts";

/** How long a placeholder that cannot be posted yet is retried by default (ms); the place in line is held meanwhile. */
export const PLACEHOLDER_RETRY_MS = 60_000;

/** A permission the bot needs to answer in a channel, as Discord's client names it. */
const NEEDED: Array<[bigint, string]> = [
  [PermissionFlagsBits.ViewChannel, "View Channel"],
  [PermissionFlagsBits.SendMessages, "Send Messages"],
  [PermissionFlagsBits.ReadMessageHistory, "Read Message History"],
];
const NEEDED_IN_THREADS: Array<[bigint, string]> = [
  [PermissionFlagsBits.ViewChannel, "View Channel"],
  [PermissionFlagsBits.SendMessagesInThreads, "Send Messages in Threads"],
  [PermissionFlagsBits.ReadMessageHistory, "Read Message History"],
];

/** Why a placeholder could not be posted: Discord refused (`refused`, with its code) or kept failing (`failing`). */
export class PlaceholderNotPosted extends Error {
  constructor(
    readonly kind: "refused" | "failing",
    readonly code: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(`placeholder not posted (${kind}${code === undefined ? "" : ` ${code}`})`, options);
    this.name = "PlaceholderNotPosted";
  }
}

export class DiscordApi {
  constructor(
    private readonly client: Client,
    private readonly log: Logger,
    private readonly limits?: DiscordRateLimits,
    private readonly placeholderRetryMs = PLACEHOLDER_RETRY_MS,
  ) {}

  /** A short reply to a message (refusals, hints): never pings anyone, posted once; failures are logged. */
  async replyTo(channelId: string, messageId: string, content: string): Promise<void> {
    const route = Routes.channelMessages(channelId);
    await this.waitShared("POST", route);
    await this.client.rest
      .post(route, {
        body: {
          content,
          allowed_mentions: NO_MENTIONS,
          message_reference: { message_id: messageId, fail_if_not_exists: false },
          nonce: nonceFor(`reply:${messageId}:${content}`),
          enforce_nonce: true,
        },
      })
      .catch((err) => this.log.warn({ err, channelId }, "could not reply"));
  }

  /**
   * The placeholder of `requestId` (with its Stop button), replying to `replyTo` when given.
   * Retried while Discord may take it later; throws PlaceholderNotPosted when it will not.
   */
  async postPlaceholder(channelId: string, content: string, requestId: string, replyTo?: string): Promise<APIMessage> {
    const route = Routes.channelMessages(channelId);
    const body = {
      content,
      components: [stopRow(requestId)],
      allowed_mentions: NO_MENTIONS,
      nonce: replyNonce(requestId, 0),
      enforce_nonce: true,
      ...(replyTo ? { message_reference: { message_id: replyTo, fail_if_not_exists: false } } : {}),
    };
    const deadline = Date.now() + this.placeholderRetryMs;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.waitShared("POST", route, deadline);
        return (await this.client.rest.post(route, { body })) as APIMessage;
      } catch (err) {
        const refused = err instanceof DiscordAPIError && err.status !== 429;
        const delay = Math.min(500 * 2 ** attempt, 8000);
        if (refused || Date.now() + delay > deadline) {
          throw new PlaceholderNotPosted(refused ? "refused" : "failing", err instanceof DiscordAPIError ? Number(err.code) : undefined, {
            cause: err,
          });
        }
        this.log.warn({ err, channelId, attempt }, "could not post the placeholder yet; retrying");
        await sleep(delay);
      }
    }
  }

  /** A plain message in a channel (the question of an `/ask` whose callback failed), created once per `key`. Throws when Discord refuses. */
  async postMessage(channelId: string, content: string, key: string): Promise<APIMessage> {
    const route = Routes.channelMessages(channelId);
    await this.waitShared("POST", route);
    return (await this.client.rest.post(route, {
      body: { content, allowed_mentions: NO_MENTIONS, nonce: nonceFor(`post:${key}`), enforce_nonce: true },
    })) as APIMessage;
  }

  /** A direct message to a user (when their channel cannot be answered), posted once per `key`; failures are logged. */
  async dm(userId: string, content: string, key: string): Promise<boolean> {
    try {
      const channel = await this.client.users.createDM(userId);
      await this.client.rest.post(Routes.channelMessages(channel.id), {
        body: { content, allowed_mentions: NO_MENTIONS, nonce: nonceFor(`dm:${key}`), enforce_nonce: true },
      });
      return true;
    } catch (err) {
      this.log.warn({ err, userId }, "could not send a direct message");
      return false;
    }
  }

  /** The permissions the bot lacks to answer in a guild channel, by name (empty: none known missing). */
  missingPermissions(channelId: string): string[] {
    const channel = this.client.channels.cache.get(channelId);
    const me = this.client.user;
    if (!channel || !me || !("permissionsFor" in channel) || channel.isDMBased()) return [];
    const perms = channel.permissionsFor(me);
    if (!perms) return [];
    const needed = channel.isThread() ? NEEDED_IN_THREADS : NEEDED;
    return needed.filter(([bit]) => !perms.has(bit as PermissionResolvable)).map(([, name]) => name);
  }

  /** Edit a message (content and/or components); mentions stay disabled. Throws when Discord refuses. */
  async edit(channelId: string, messageId: string, body: Record<string, unknown>): Promise<void> {
    const route = Routes.channelMessage(channelId, messageId);
    await this.waitShared("PATCH", route);
    await this.client.rest.patch(route, { body: { ...body, allowed_mentions: NO_MENTIONS } });
  }

  /** A message, through the REST API (a replied-to one). Throws when Discord refuses (deleted: 10008; not visible: 50001). */
  async fetchMessage(channelId: string, messageId: string): Promise<APIMessage> {
    return (await this.client.rest.get(Routes.channelMessage(channelId, messageId))) as APIMessage;
  }

  /** The bot's own user id. */
  get botId(): string {
    return this.client.user?.id ?? "";
  }

  /** Delete a message; failures are ignored (it may be gone already). */
  async delete(channelId: string, messageId: string): Promise<void> {
    await this.client.rest.delete(Routes.channelMessage(channelId, messageId)).catch(() => {});
  }

  /** "… is typing" for ~10 s; failures are ignored. */
  async typing(channelId: string): Promise<void> {
    await this.client.rest.post(Routes.channelTyping(channelId)).catch(() => {});
  }

  /** A public thread started on `messageId`. Throws when Discord refuses. */
  async openThread(channelId: string, messageId: string, name: string): Promise<APIChannel> {
    return (await this.client.rest.post(Routes.threads(channelId, messageId), {
      body: { name, auto_archive_duration: 1440 },
    })) as APIChannel;
  }

  /** Where a message or interaction happened; fetches a thread's parent when it is not cached. */
  async placeOf(channel: Channel | null, channelId: string | null, guildId: string | null): Promise<DiscordPlace> {
    const id = channelId ?? channel?.id ?? "unknown";
    if (guildId === null) return { guildId: null, channelId: id, parentId: null, isThread: false };
    let ch: Channel | null = channel;
    if (!ch || ch.partial || (ch.isThread() && !ch.parentId)) ch = await this.client.channels.fetch(id).catch(() => ch);
    if (ch?.isThread()) return { guildId, channelId: id, parentId: ch.parentId, isThread: true };
    return { guildId, channelId: id, parentId: null, isThread: false };
  }

  /** Wait out a block another process learned of (at most until `deadline`, default 10 s from now). */
  private async waitShared(method: string, route: string, deadline = Date.now() + 10_000): Promise<void> {
    const wait = (await this.limits?.waitMs(method, route)) ?? 0;
    if (wait > 0) await sleep(Math.min(wait, Math.max(0, deadline - Date.now())));
  }
}
