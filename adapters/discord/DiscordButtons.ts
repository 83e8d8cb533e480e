/**
 * The Stop and Regenerate buttons under the bot's answers on Discord. In a shared channel only the
 * asker (or a moderator: Manage Messages) may press them.
 *
 * - Stop asks the worker generating the reply to stop (the partial answer stays) and removes the
 *   button; pressed while the message still waits in line, it takes it out of the line and the
 *   placeholder says "Stopped before it started." at once.
 * - Every press is claimed by the adapter before anything is answered: a press replayed after a
 *   gateway resume does nothing.
 * - Regenerate (only on a conversation's latest answer) is a new request that replaces that answer,
 *   streamed into the same message(s). It goes through the intake like a message: the clicked
 *   message becomes its "placeholder", and a refused request puts the old answer back.
 */
import { type ButtonInteraction, PermissionFlagsBits } from "discord.js";
import type { AdapterDeps } from "../../src/intake/AdapterDeps.ts";
import type { Intake } from "../../src/intake/Intake.ts";
import { DiscordKeys } from "../../src/keys.ts";
import type { Logger } from "../../src/logger.ts";
import type { ChatRequest, ReplyTarget } from "../../src/types.ts";
import type { DiscordAccessDecision } from "./checkDiscordAccess.ts";
import type { DiscordApi } from "./DiscordApi.ts";
import { REPLY_MESSAGE_TTL_SECONDS } from "./DiscordSink.ts";
import { NO_MENTIONS, parseButtonId, regenerateRow, stopRow } from "./discordComponents.ts";
import { type DiscordPlace, discordConversationKey } from "./discordConversation.ts";
import { authorOf, ephemeral, ephemeralFollowUp, rolesOf } from "./discordInteraction.ts";
import { DISCORD_TEXT } from "./discordMessages.ts";

/** How long a regenerated request's copy of the earlier answer's overflow messages is kept. */
const REPLY_MESSAGES_TTL_SECONDS = 24 * 3600;

export class DiscordButtons {
  private readonly dkeys: DiscordKeys;

  constructor(
    private readonly deps: AdapterDeps,
    private readonly log: Logger,
    private readonly api: DiscordApi,
    private readonly intake: Intake,
    private readonly access: (place: DiscordPlace, userId: string, roleIds: readonly string[] | null) => DiscordAccessDecision,
  ) {
    this.dkeys = new DiscordKeys(deps.keys);
  }

  async click(i: ButtonInteraction): Promise<void> {
    const parsed = parseButtonId(i.customId);
    if (!parsed) {
      await ephemeral(i, DISCORD_TEXT.unknownButton);
      return;
    }
    const place = await this.api.placeOf(i.channel, i.channelId, i.guildId);
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
      await ephemeral(i, DISCORD_TEXT.unavailable);
      return;
    }
    // In a shared channel only the asker (or a moderator) may stop or regenerate an answer.
    if (request && request.author.id !== i.user.id && !i.memberPermissions?.has(PermissionFlagsBits.ManageMessages)) {
      await ephemeral(i, DISCORD_TEXT.onlyAsker(request.author.name, parsed.action));
      return;
    }
    if (parsed.action === "stop") return this.stop(i, parsed.requestId, request);
    await this.regenerate(i, place, parsed.requestId, request);
  }

  /** Stop: out of the line if it still waits ("Stopped before it started." at once), else the worker stops generating. */
  private async stop(i: ButtonInteraction, requestId: string, request: ChatRequest | null): Promise<void> {
    let waiting = false;
    try {
      waiting = request ? await this.deps.ingestor.stopWaiting(request.conversationKey, requestId) : false;
      if (!waiting) await this.deps.ingestor.stop(requestId);
    } catch {
      await ephemeral(i, DISCORD_TEXT.unavailable);
      return;
    }
    this.log.info({ requestId, userId: i.user.id, waiting }, waiting ? "stopped while waiting" : "stop requested");
    if (waiting) await i.update({ content: DISCORD_TEXT.stoppedBeforeStart, components: [], allowedMentions: NO_MENTIONS });
    else await i.update({ components: [], allowedMentions: NO_MENTIONS });
  }

  /** Regenerate: a new request that replaces the conversation's last answer, streamed into the same message(s). */
  private async regenerate(i: ButtonInteraction, place: DiscordPlace, oldId: string, old: ChatRequest | null): Promise<void> {
    const { redis, keys } = this.deps;
    const conv = old?.conversationKey ?? discordConversationKey(place);
    let latest: string | null;
    try {
      latest = await redis.get(this.dkeys.latest(conv));
    } catch {
      await ephemeral(i, DISCORD_TEXT.unavailable);
      return;
    }
    if (latest !== oldId) {
      await ephemeral(i, DISCORD_TEXT.regenerateNotLatest);
      return;
    }
    const requestId = `discord-r${i.id}`;
    const first: ReplyTarget = old?.reply ?? {
      platform: "discord",
      channelId: i.channelId,
      messageId: i.message.id,
      ...(i.guildId ? { workspaceId: i.guildId } : {}),
    };
    const clickedIsFirst = i.message.id === first.messageId;
    const oldContent = i.message.content;
    await this.intake.take(
      { text: old?.text ?? "(regenerate)" }, // claimed by the adapter before anything was answered
      {
        refuse: (r) => ephemeral(i, r.userMessage),
        prepare: () => ({
          requestId,
          conversationKey: conv,
          author: authorOf(i.user, i.member),
          regenerate: true,
          ...(old?.place ? { place: old.place } : {}),
        }),
        postPlaceholder: async () => {
          const target: ReplyTarget = { ...first, requestId };
          // The earlier answer's overflow messages are reused (or emptied) by the new one; deleting any of them stops it.
          const previous = await redis.hget(keys.reply(oldId), "messages").catch(() => null);
          const messages = previous ? (JSON.parse(previous) as ReplyTarget[]).map((t) => ({ ...t, requestId })) : [target];
          const book = redis.multi();
          if (previous)
            book
              .hset(keys.reply(requestId), "messages", JSON.stringify(messages))
              .expire(keys.reply(requestId), REPLY_MESSAGES_TTL_SECONDS);
          for (const m of messages) book.set(this.dkeys.replyMessage(m.messageId), requestId, "EX", REPLY_MESSAGE_TTL_SECONDS);
          await book.exec().catch(() => undefined);
          // Show it before queueing, so no worker edit can be overwritten by this one.
          if (clickedIsFirst) {
            await i.update({ content: DISCORD_TEXT.regenerating, components: [stopRow(requestId)], allowedMentions: NO_MENTIONS });
          } else {
            await i.update({ components: [], allowedMentions: NO_MENTIONS });
            await this.api
              .edit(first.channelId, first.messageId, { components: [stopRow(requestId)] })
              .catch((err) => this.log.warn({ err }, "could not put the Stop button on the answer"));
          }
          return target;
        },
        withdraw: async (target, refusal) => {
          if (!target) {
            // Refused before anything changed: just say why (or acknowledge the press).
            if (refusal) await ephemeral(i, refusal.userMessage).catch(() => undefined);
            else await i.deferUpdate().catch(() => undefined);
            return;
          }
          // Put the old answer back as it was, and say why.
          const restore: Record<string, unknown> = { components: [regenerateRow(oldId)] };
          if (clickedIsFirst) restore.content = oldContent || "…";
          await this.api.edit(first.channelId, first.messageId, restore).catch(() => {});
          if (refusal) await ephemeralFollowUp(i, refusal.userMessage);
        },
        queued: async () => {
          await redis.set(this.dkeys.latest(conv), requestId, "EX", this.deps.config.MEMORY_TTL_SECONDS).catch(() => {});
          this.log.info({ requestId, replaces: oldId, conversation: conv }, "regenerate queued");
        },
      },
    );
  }
}
