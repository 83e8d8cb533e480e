/**
 * The Slack commands beyond `/ask` and `/reset`, registered on the Bolt app:
 * `/ask-settings` (slackSettingsCommand), `/ask-help` (slackHelp) and `/imagine` (slackImagine).
 * Each is acknowledged at once (Slack wants an ack within 3 s) and answered through the command's
 * `response_url`, ephemeral. Every command must also be listed in manifest.yml.
 */
import type { App } from "@slack/bolt";
import type { AdapterDeps } from "../../src/intake/AdapterDeps.ts";
import type { Logger } from "../../src/logger.ts";
import type { SettingsStore } from "../../src/settings/SettingsStore.ts";
import type { Respond } from "./SlackConversations.ts";
import { SlackUserNames } from "./SlackUserNames.ts";
import { HELP_COMMAND, slackHelpText } from "./slackHelp.ts";
import { IMAGINE_COMMAND, isImagineRequestId, SlackImagine } from "./slackImagine.ts";
import { SETTINGS_COMMAND, type SlackCommandPlace, SlackSettingsCommand } from "./slackSettingsCommand.ts";
import type { WebClient } from "./slackWorkspaces.ts";

type Loose = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined);

export interface SlackCommands {
  /** `/ask help`: the same answer as `/ask-help`. */
  help(place: { teamId: string; channelId: string }, respond: Respond): Promise<void>;
  /** Whether a Stop click is for a picture; then it is handled (a refusal told through `respond`). */
  stopImage(requestId: string | undefined, click: { client: unknown; userId: string; respond?: Respond }): Promise<boolean>;
}

export function registerSlackCommands(app: App, deps: AdapterDeps, settings: SettingsStore, log: Logger): SlackCommands {
  const settingsCommand = new SlackSettingsCommand(settings, deps.config.SLACK_SETTINGS_USERS ?? [], log);
  const imagine = new SlackImagine(deps, settings, new SlackUserNames(log), log);
  const ephemeral = (respond: Respond, text: string) =>
    respond({ response_type: "ephemeral", text }).catch((err: unknown) => log.warn({ err }, "could not answer a command"));
  const help = async (place: { teamId: string; channelId: string }, respond: Respond) => {
    await ephemeral(respond, await slackHelpText(deps.config, settings, place, log));
  };

  const placeOf = (command: Loose, context: Loose): SlackCommandPlace => {
    const place: SlackCommandPlace = {
      teamId: str(context.teamId) ?? str(command.team_id) ?? "",
      channelId: String(command.channel_id ?? ""),
      userId: String(command.user_id ?? ""),
    };
    const userName = str(command.user_name);
    if (userName) place.userName = userName;
    return place;
  };
  type Args = { command: Loose; ack: () => Promise<void>; respond: Respond; client: unknown; context: Loose };
  const on = (name: string, run: (a: Args, place: SlackCommandPlace, text: string) => Promise<void>) => {
    app.command(name, async (raw) => {
      const a = raw as unknown as Args;
      await a.ack();
      await run(a, placeOf(a.command, a.context), String(a.command.text ?? "").trim()).catch((err: unknown) => {
        log.error({ err, command: name }, "command failed");
        return ephemeral(a.respond, "Sorry — something went wrong with that command. Please try again.");
      });
    });
  };

  on(SETTINGS_COMMAND, async (a, place, text) => {
    await ephemeral(a.respond, await settingsCommand.run(a.client as WebClient, place, text));
  });
  on(HELP_COMMAND, (a, place) => help(place, a.respond));
  on(IMAGINE_COMMAND, (a, place, text) =>
    imagine.command(a.client as WebClient, { ...place, triggerId: String(a.command.trigger_id ?? Date.now()) }, text, a.respond),
  );

  return {
    help,
    async stopImage(requestId, click) {
      if (!requestId || !isImagineRequestId(requestId)) return false;
      const refusal = await imagine.stop(click.client as WebClient, requestId, click.userId).catch((err: unknown) => {
        log.warn({ err }, "could not request an image stop");
        return "I couldn't stop that picture right now, please try again in a moment.";
      });
      if (refusal && click.respond)
        await click.respond({ response_type: "ephemeral", text: refusal, replace_original: false }).catch(() => {});
      return true;
    },
  };
}
