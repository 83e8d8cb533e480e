/**
 * The Discord adapter's calls to Discord outside the gateway events: REST writes (short replies,
 * the placeholder, edits, deletes, typing, threads) with mentions disabled, and where a message or
 * interaction happened (a thread's parent is fetched when the cache does not have it). Conversation
 * logic never builds a route itself.
 */
import { type APIChannel, type APIMessage, type Channel, type Client, Routes } from "discord.js";
import type { Logger } from "../../src/logger.ts";
import { NO_MENTIONS, stopRow } from "./discordComponents.ts";
import type { DiscordPlace } from "./discordConversation.ts";

export class DiscordApi {
  constructor(
    private readonly client: Client,
    private readonly log: Logger,
  ) {}

  /** A short reply to a message (refusals, hints): never pings anyone; failures are logged. */
  async replyTo(channelId: string, messageId: string, content: string): Promise<void> {
    await this.client.rest
      .post(Routes.channelMessages(channelId), {
        body: { content, allowed_mentions: NO_MENTIONS, message_reference: { message_id: messageId, fail_if_not_exists: false } },
      })
      .catch((err) => this.log.warn({ err, channelId }, "could not reply"));
  }

  /** The placeholder of `requestId` (with its Stop button), replying to `replyTo` when given. Throws when Discord refuses. */
  async postPlaceholder(channelId: string, content: string, requestId: string, replyTo?: string): Promise<APIMessage> {
    return (await this.client.rest.post(Routes.channelMessages(channelId), {
      body: {
        content,
        components: [stopRow(requestId)],
        allowed_mentions: NO_MENTIONS,
        ...(replyTo ? { message_reference: { message_id: replyTo, fail_if_not_exists: false } } : {}),
      },
    })) as APIMessage;
  }

  /** Edit a message (content and/or components); mentions stay disabled. Throws when Discord refuses. */
  async edit(channelId: string, messageId: string, body: Record<string, unknown>): Promise<void> {
    await this.client.rest.patch(Routes.channelMessage(channelId, messageId), { body: { ...body, allowed_mentions: NO_MENTIONS } });
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
}
