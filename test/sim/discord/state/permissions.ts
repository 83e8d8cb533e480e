/** Discord permission bits and the base/overwrite computation the simulator uses to answer 403s. */

export const Permission = {
  CreateInstantInvite: 1n << 0n,
  KickMembers: 1n << 1n,
  BanMembers: 1n << 2n,
  Administrator: 1n << 3n,
  ManageChannels: 1n << 4n,
  ManageGuild: 1n << 5n,
  AddReactions: 1n << 6n,
  ViewAuditLog: 1n << 7n,
  ViewChannel: 1n << 10n,
  SendMessages: 1n << 11n,
  SendTTSMessages: 1n << 12n,
  ManageMessages: 1n << 13n,
  EmbedLinks: 1n << 14n,
  AttachFiles: 1n << 15n,
  ReadMessageHistory: 1n << 16n,
  MentionEveryone: 1n << 17n,
  UseExternalEmojis: 1n << 18n,
  ManageRoles: 1n << 28n,
  ManageWebhooks: 1n << 29n,
  UseApplicationCommands: 1n << 31n,
  ManageThreads: 1n << 34n,
  CreatePublicThreads: 1n << 35n,
  CreatePrivateThreads: 1n << 36n,
  SendMessagesInThreads: 1n << 38n,
  ModerateMembers: 1n << 40n,
  SendPolls: 1n << 49n,
  PinMessages: 1n << 51n,
} as const;

/**
 * What `app_permissions` carries in a DM with the bot user (Discord: ATTACH_FILES | EMBED_LINKS |
 * MENTION_EVERYONE, plus USE_EXTERNAL_EMOJIS for DMs with the app's bot user).
 */
export const DM_APP_PERMISSIONS =
  Permission.AttachFiles | Permission.EmbedLinks | Permission.MentionEveryone | Permission.UseExternalEmojis;

/** every defined permission bit (0–52; bit 47 is unassigned) */
export const ALL_PERMISSIONS = ((1n << 53n) - 1n) & ~(1n << 47n);

/** What @everyone gets by default in the simulator: enough for a mention bot. */
export const DEFAULT_EVERYONE_PERMISSIONS =
  Permission.CreateInstantInvite |
  Permission.AddReactions |
  Permission.ViewChannel |
  Permission.SendMessages |
  Permission.EmbedLinks |
  Permission.AttachFiles |
  Permission.ReadMessageHistory |
  Permission.UseExternalEmojis |
  Permission.UseApplicationCommands |
  Permission.CreatePublicThreads |
  Permission.CreatePrivateThreads |
  Permission.SendMessagesInThreads;

export interface Overwrite {
  id: string;
  type: 0 | 1;
  allow: string;
  deny: string;
}

/** Discord's algorithm: base from roles, then @everyone, role and member overwrites. */
export function computePermissions(opts: {
  guildId: string;
  ownerId: string;
  userId: string;
  memberRoleIds: string[];
  rolePermissions: Map<string, bigint>;
  overwrites: Overwrite[];
}): bigint {
  if (opts.userId === opts.ownerId) return ALL_PERMISSIONS;
  let base = opts.rolePermissions.get(opts.guildId) ?? 0n;
  for (const r of opts.memberRoleIds) base |= opts.rolePermissions.get(r) ?? 0n;
  if ((base & Permission.Administrator) !== 0n) return ALL_PERMISSIONS;
  let perms = base;
  const everyone = opts.overwrites.find((o) => o.id === opts.guildId);
  if (everyone) perms = (perms & ~BigInt(everyone.deny)) | BigInt(everyone.allow);
  let allow = 0n;
  let deny = 0n;
  for (const o of opts.overwrites) {
    if (o.type === 0 && opts.memberRoleIds.includes(o.id)) {
      allow |= BigInt(o.allow);
      deny |= BigInt(o.deny);
    }
  }
  perms = (perms & ~deny) | allow;
  const member = opts.overwrites.find((o) => o.type === 1 && o.id === opts.userId);
  if (member) perms = (perms & ~BigInt(member.deny)) | BigInt(member.allow);
  return perms;
}
