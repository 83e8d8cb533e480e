/**
 * `/ask-help` (and `/ask help`): what the bot does in Slack — its commands, how conversations work
 * here (threads, mentions, follow-ups, DMs, thread context, files), and the current channel's
 * settings in brief. Always ephemeral: only the person who asked sees it.
 */
import type { Config } from "../../src/config.ts";
import { formatBytes } from "../../src/context/renderUserTurn.ts";
import type { Logger } from "../../src/logger.ts";
import { formatSettingsBrief } from "../../src/settings/formatSettings.ts";
import type { SettingsStore } from "../../src/settings/SettingsStore.ts";
import { scopeOf } from "../../src/settings/settingsScope.ts";

export const HELP_COMMAND = "/ask-help";

/** Whether `/ask <text>` asks for help rather than asking the model. */
export function isHelpText(text: string): boolean {
  return /^\/?(help|\?)[.!?]?$/i.test(text.trim());
}

/** The help text; the settings line is read for `channelId` (a Redis failure leaves it out). */
export async function slackHelpText(
  config: Config,
  store: SettingsStore,
  place: { teamId: string; channelId: string },
  log: Logger,
): Promise<string> {
  let here: string;
  try {
    const shown = await store.show(scopeOf({ platform: "slack", workspaceId: place.teamId, channelId: place.channelId }, "channel"));
    const off = shown.settings.find((s) => s.key === "enabled" && s.value === "false");
    here = `${off ? "⚠ I'm switched off in this channel. " : ""}${formatSettingsBrief(shown)} \`/ask-settings show\` lists them all.`;
  } catch (err) {
    log.warn({ err }, "could not read the settings for /ask-help");
    here = "(I couldn't read this channel's settings right now.)";
  }
  const images =
    config.IMAGE_ENGINE === "none"
      ? "• `/imagine <prompt>` — pictures from a prompt (not set up on this bot yet: it answers how to set it up)."
      : `• \`/imagine <prompt> [no:<negative prompt>] [size:${config.IMAGE_DEFAULT_SIZE}] [steps:${config.IMAGE_DEFAULT_STEPS}] [seed:42]\` — a picture; ` +
        `previews appear in its thread as it forms, Stop keeps the last one. Sizes: ${config.IMAGE_SIZES.join(", ")}; steps 1–${config.IMAGE_MAX_STEPS}.`;
  const followups = config.SLACK_THREAD_FOLLOWUPS
    ? "In my threads just reply — no mention needed (mention someone else and I stay out of it)."
    : "In my threads, mention me to continue.";
  return [
    "*What I do here*",
    "• `/ask <question>` — I post your question and answer in a new thread; each `/ask` is a fresh conversation.",
    `• Mention me (\`@me <question>\`) in a channel — I answer in a thread on your message. ${followups}`,
    "• Mention me inside someone else's thread — I read the thread's earlier messages first (as many as fit).",
    "• Direct message me — each message starts a conversation in its own thread.",
    `• Attach text files (code, logs, Markdown, JSON, CSV…) to a message for me — I read them (up to ${formatBytes(config.MAX_ATTACHMENT_BYTES)} each); images and other binaries get a note.`,
    "• *Stop* under an answer stops it where it is.",
    "• `/reset` (or `/ask reset`) forgets your latest conversation in this channel; `@me reset` in a thread forgets that thread.",
    images,
    "• `/ask-settings show|set|reset` — my persona and limits per workspace, channel or thread (changing them: workspace admins and owners).",
    "",
    `*This channel*: ${here}`,
  ].join("\n");
}
