/**
 * `/imagine` on Discord, through the image lane (src/intake/ImagineIntake.ts): the same steps as
 * `/ask` — access and the place's settings checked, the options checked (a bad one is refused
 * ephemerally, naming the allowed range), the request visibly echoed, a placeholder with its place
 * in line and a Stop button replying to it — then an image worker edits that placeholder with the
 * previews and the final picture (DiscordSink.showImage).
 *
 * The picture's buttons are the text buttons' (`stop:` / `regen:` custom ids) on requests whose id
 * starts with IMAGE_REQUEST_PREFIX; DiscordButtons hands those here. Stop interrupts the engine (the
 * last preview stays, marked stopped); Regenerate makes the picture again with a new seed, as a new
 * request with a placeholder of its own replying to the picture. Only the asker (or a member with
 * Manage Messages) may press them. A picture's placeholder deleted by a moderator stops it too.
 */
import { type ButtonInteraction, type ChatInputCommandInteraction, PermissionFlagsBits } from "discord.js";
import { IMAGE_ENGINE_NOT_CONFIGURED_MESSAGE } from "../../src/images/imagineText.ts";
import type { AdapterDeps } from "../../src/intake/AdapterDeps.ts";
import type { ImagineIntake } from "../../src/intake/ImagineIntake.ts";
import type { IntakePlatform } from "../../src/intake/Intake.ts";
import { DiscordKeys } from "../../src/keys.ts";
import type { Logger } from "../../src/logger.ts";
import type { ChatAuthor, ImagineRequest, ReplyTarget } from "../../src/types.ts";
import type { DiscordAccessDecision } from "./checkDiscordAccess.ts";
import type { DiscordApi } from "./DiscordApi.ts";
import { REPLY_MESSAGE_TTL_SECONDS } from "./DiscordSink.ts";
import { NO_MENTIONS } from "./discordComponents.ts";
import { type DiscordPlace, placeholderText } from "./discordConversation.ts";
import { authorOf, ephemeral, ephemeralFollowUp, rolesOf } from "./discordInteraction.ts";
import { DISCORD_TEXT } from "./discordMessages.ts";
import { chatPlaceOf, discordConversationAt, discordIntakeSettings } from "./discordPlaceSettings.ts";

/** Every /imagine request id on Discord starts with this (its buttons are routed here). */
export const IMAGE_REQUEST_PREFIX = "discord-img-";

/** How much of the prompt the visible echo shows. */
const ECHO_PROMPT_CHARS = 1500;

export function isImageRequest(requestId: string): boolean {
  return requestId.startsWith(IMAGE_REQUEST_PREFIX);
}

/** The visible echo of an /imagine: who asked for what. */
export function imagineEchoText(name: string, prompt: string, negative: string | null): string {
  const cut = (s: string) => (s.length > ECHO_PROMPT_CHARS ? `${s.slice(0, ECHO_PROMPT_CHARS)}…` : s);
  const who = name.replace(/([\\*_~`|])/g, "\\$1");
  return `🎨 **${who}** asked for a picture:\n>>> ${cut(prompt)}${negative ? `\n-# not: ${cut(negative)}` : ""}`;
}

type Access = (place: DiscordPlace, userId: string, roleIds: readonly string[] | null) => DiscordAccessDecision;

export class DiscordImagine {
  private readonly dkeys: DiscordKeys;

  constructor(
    private readonly deps: AdapterDeps,
    private readonly log: Logger,
    private readonly api: DiscordApi,
    private readonly access: Access,
  ) {
    this.dkeys = new DiscordKeys(deps.keys);
  }

  /** `/imagine prompt: [negative] [size] [steps] [seed]`. The interaction was claimed by the adapter. */
  async command(i: ChatInputCommandInteraction): Promise<void> {
    const imagine = this.deps.imagine;
    if (!imagine) return ephemeral(i, IMAGE_ENGINE_NOT_CONFIGURED_MESSAGE);
    const place = await this.api.placeOf(i.channel, i.channelId, i.guildId);
    const access = this.access(place, i.user.id, rolesOf(i.member));
    if (!access.ok) return ephemeral(i, access.message);
    const settings = await discordIntakeSettings(this.deps, this.log, place, i.user.id);
    if (!settings.enabled) return ephemeral(i, settings.userMessage ?? DISCORD_TEXT.disabled);
    const author = authorOf(i.user, i.member);
    const prompt = i.options.getString("prompt", true);
    const negative = i.options.getString("negative");
    const size = i.options.getString("size");
    const steps = i.options.getInteger("steps");
    const seed = i.options.getInteger("seed");
    const input = {
      prompt,
      ...(negative === null ? {} : { negativePrompt: negative }),
      ...(size === null ? {} : { size }),
      ...(steps === null ? {} : { steps }),
      ...(seed === null ? {} : { seed }),
    };
    let echoId: string | undefined;
    await imagine.take(
      { input },
      {
        ...this.placing(place, () => echoId, {
          // Refused once the question was shown: it is taken back, and the asker told privately.
          refused: async (message) => {
            if (echoId) await this.api.delete(place.channelId, echoId);
            await ephemeralFollowUp(i, message);
          },
        }),
        refuse: (r) => ephemeral(i, r.userMessage),
        prepare: async () => {
          const res = await i.reply({
            content: imagineEchoText(author.name, prompt, negative),
            allowedMentions: NO_MENTIONS,
            withResponse: true,
          });
          echoId = (res.resource?.message ?? (await i.fetchReply().catch(() => null)))?.id;
          return {
            requestId: `${IMAGE_REQUEST_PREFIX}${i.id}`,
            conversationKey: discordConversationAt(place, settings.memoryScope, author.id),
            author,
            place: chatPlaceOf(place),
          };
        },
      },
    );
  }

  /** Stop or Regenerate under a picture (or its placeholder). */
  async click(i: ButtonInteraction, action: "stop" | "regen", requestId: string): Promise<void> {
    const imagine = this.deps.imagine;
    if (!imagine) return ephemeral(i, IMAGE_ENGINE_NOT_CONFIGURED_MESSAGE);
    const access = this.access(await this.api.placeOf(i.channel, i.channelId, i.guildId), i.user.id, rolesOf(i.member));
    if (!access.ok) return ephemeral(i, access.message);
    let request: ImagineRequest | null;
    try {
      const raw = await this.deps.redis.get(imagine.keys.request(requestId));
      request = raw ? (JSON.parse(raw) as ImagineRequest) : null;
    } catch {
      return ephemeral(i, DISCORD_TEXT.unavailable);
    }
    if (request && request.author.id !== i.user.id && !i.memberPermissions?.has(PermissionFlagsBits.ManageMessages)) {
      return ephemeral(i, DISCORD_TEXT.onlyAsker(request.author.name, action));
    }
    if (action === "stop") {
      await i.deferUpdate();
      await imagine.stop(requestId).catch((err: unknown) => this.log.warn({ err, requestId }, "could not stop the picture"));
      return;
    }
    await this.regenerate(i, imagine, requestId, request);
  }

  /** A new picture from the same options with a new seed; its placeholder replies to the clicked one. */
  private async regenerate(i: ButtonInteraction, imagine: ImagineIntake, oldId: string, old: ImagineRequest | null): Promise<void> {
    const place = await this.api.placeOf(i.channel, i.channelId, i.guildId);
    await i.deferUpdate();
    const author: ChatAuthor = authorOf(i.user, i.member);
    const settings = await discordIntakeSettings(this.deps, this.log, place, i.user.id);
    await imagine.regenerate(
      { requestId: oldId },
      {
        ...this.placing(place, () => i.message.id, { refused: (message) => ephemeralFollowUp(i, message) }),
        refuse: (r) => ephemeralFollowUp(i, r.userMessage),
        prepare: () => ({
          requestId: `${IMAGE_REQUEST_PREFIX}${i.id}`,
          conversationKey: old?.conversationKey ?? discordConversationAt(place, settings.memoryScope, author.id),
          author,
          place: old?.place ?? chatPlaceOf(place),
        }),
      },
    );
  }

  /** The placeholder (place in line, Stop) replying to `replyTo()`; a refusal after it shows "⚠️ …" in it. */
  private placing(
    place: DiscordPlace,
    replyTo: () => string | undefined,
    on: { refused: (message: string) => Promise<void> },
  ): Pick<IntakePlatform, "postPlaceholder" | "withdraw"> {
    return {
      postPlaceholder: async (draft, ahead) => {
        try {
          const posted = await this.api.postPlaceholder(place.channelId, placeholderText(ahead), draft.requestId, replyTo());
          // Its deletion by a moderator stops the picture (DiscordConversations.deleted).
          await this.deps.redis
            .set(this.dkeys.replyMessage(posted.id), draft.requestId, "EX", REPLY_MESSAGE_TTL_SECONDS)
            .catch(() => undefined);
          return {
            platform: "discord",
            channelId: place.channelId,
            messageId: posted.id,
            requestId: draft.requestId,
            ...(place.guildId ? { workspaceId: place.guildId } : {}),
          } satisfies ReplyTarget;
        } catch (err) {
          this.log.warn({ err, channelId: place.channelId }, "could not post the /imagine placeholder");
          await on.refused(DISCORD_TEXT.imagineNotPosted);
          return null;
        }
      },
      withdraw: async (reply, refusal) => {
        if (!reply) return refusal ? on.refused(refusal.userMessage) : undefined;
        if (!refusal) return this.api.delete(reply.channelId, reply.messageId);
        await this.api
          .edit(reply.channelId, reply.messageId, { content: `⚠️ ${refusal.userMessage}`, components: [] })
          .catch((err) => this.log.warn({ err }, "could not explain the refusal"));
      },
    };
  }
}
