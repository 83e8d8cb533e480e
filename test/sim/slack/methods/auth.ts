/** `auth.test`: who the bot token is (workspace, bot user, bot id). */
import { bot, type MethodDeps, type MethodSpec } from "./MethodSpec.ts";

export function authMethods({ state }: MethodDeps): Record<string, MethodSpec> {
  return {
    "auth.test": bot(({ team }) => ({
      url: `https://${team.domain}.slack.com/`,
      team: team.name,
      user: state.botName,
      team_id: team.id,
      user_id: team.botUserId,
      bot_id: team.botId,
      is_enterprise_install: false,
    })),
  };
}
