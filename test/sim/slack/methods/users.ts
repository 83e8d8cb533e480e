/** `users.info`: a user of the workspace (created on first mention by a test). */
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
          deleted: false,
          is_bot: user.isBot,
          is_app_user: false,
          tz: "Europe/Amsterdam",
          profile: {
            real_name: user.realName,
            display_name: user.name,
            ...(user.botId !== undefined ? { bot_id: user.botId } : {}),
          },
        },
      };
    }),
  };
}
