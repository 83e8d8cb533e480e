/** Small helpers over discord.js interactions and members: private replies, the author's name, their roles. */
import {
  type APIInteractionGuildMember,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type GuildMember,
  type Interaction,
  MessageFlags,
  type User,
} from "discord.js";
import type { ChatAuthor } from "../../src/types.ts";
import { NO_MENTIONS } from "./discordComponents.ts";

/** The author as the model sees them: the server nickname when there is one. */
export function authorOf(user: User, member: GuildMember | APIInteractionGuildMember | null): ChatAuthor {
  const nick = member && "displayName" in member ? member.displayName : member?.nick;
  return { id: user.id, name: nick || user.displayName };
}

/** The member's role ids (null outside a server). */
export function rolesOf(member: GuildMember | APIInteractionGuildMember | null): string[] | null {
  if (!member) return null;
  return Array.isArray(member.roles) ? member.roles : [...member.roles.cache.keys()];
}

/** A reply only the user sees (a follow-up when the interaction was answered already). */
export async function ephemeral(i: ChatInputCommandInteraction | ButtonInteraction | Interaction, content: string): Promise<void> {
  if (!i.isRepliable()) return;
  const payload = { content, flags: MessageFlags.Ephemeral as const, allowedMentions: NO_MENTIONS };
  if (i.replied || i.deferred) await i.followUp(payload);
  else await i.reply(payload);
}

/** A private follow-up after the interaction was answered; failures are ignored. */
export async function ephemeralFollowUp(i: ChatInputCommandInteraction | ButtonInteraction, content: string): Promise<void> {
  await i.followUp({ content, flags: MessageFlags.Ephemeral, allowedMentions: NO_MENTIONS }).catch(() => {});
}
