/** `users.info`: a user of the workspace (created on first mention by a test), with the roles a test gave them. */
import { bot, type MethodDeps, type MethodSpec, requireString, SimApiError } from "./MethodSpec.ts";

export function usersMethods(_deps: MethodDeps): Record<string, MethodSpec> {
  return {
    "users.info": bot(({ team, params }) => {
      const id = requireString(params, "user", "user_not_found");
      const user = team.users.get(id);
      if (!user) throw new SimApiError("user_not_found");
      return {
        user: {
          id: user.id,
          team_id: team.id,
          name: user.name,
          real_name: user.realName,
          deleted: user.deleted,
          is_bot: user.isBot,
          is_app_user: false,
          is_admin: user.isAdmin,
          is_owner: user.isOwner,
          is_primary_owner: user.isPrimaryOwner,
          is_restricted: user.isRestricted,
          is_ultra_restricted: false,
          tz: "Europe/Amsterdam",
          tz_label: "Central European Summer Time",
          tz_offset: 7200,
          updated: Math.floor(Date.now() / 1000),
          profile: {
            real_name: user.realName,
            display_name: user.name,
            real_name_normalized: user.realName,
            display_name_normalized: user.name,
            team: team.id,
            ...(user.botId !== undefined ? { bot_id: user.botId } : {}),
          },
        },
      };
    }),
  };
}
