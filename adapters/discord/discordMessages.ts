/**
 * What the Discord adapter tells people, besides the answers: hints, command replies, the visible
 * echo of an `/ask`. The intake's refusals (unavailable, too long, rate limited…) are shared by
 * every platform and live in src/intake/intakeMessages.ts.
 */
import { INTAKE_TEXT } from "../../src/intake/intakeMessages.ts";

/** How much of an `/ask` prompt the visible echo shows. */
const ECHO_MAX = 1800;

export const DISCORD_TEXT = {
  unavailable: INTAKE_TEXT.unavailable,
  /** The message text the model gets when a mention brings only files. */
  onlyFiles: "(no message — only the attached files)",
  disabled: "I'm switched off here.",
  imagineNotPosted: "I couldn't post the picture's placeholder here — I may be missing permissions in this channel.",
  settingsUnavailable: "Settings are not available on this deployment.",
  pingHint:
    "-# I only see replies that keep the ping on (the **@ON** switch when you reply), mentions of me, and `/ask`. `/help` says more.",
  threadHint: "I can only read messages here that mention me or reply to one of mine.",
  unknownCommand: "Unknown command.",
  unknownButton: "Unknown button.",
  regenerateNotLatest: "Only the latest answer of this conversation can be regenerated.",
  regenerating: "⏳ Regenerating…",
  stoppedBeforeStart: "Stopped before it started.",
  emptyAsk: "Your question is empty — write it in `/ask`'s `prompt`.",
  onlyAsker: (asker: string, action: "stop" | "regen"): string =>
    `Only ${asker}, who asked, can ${action === "stop" ? "stop" : "regenerate"} this answer.`,
  resetDone: (what: string): string => `🧹 Done — I've forgotten ${what}.`,
} as const;

/**
 * Why a message or `/ask` question in `channelId` gets no answer there: the permissions the bot
 * lacks (when Discord refused and they are known), Discord's error code otherwise, or Discord
 * failing until the bot gave up.
 */
export function cannotAnswerText(
  what: "message" | "question",
  channelId: string,
  err: { kind: "refused" | "failing"; code: number | undefined },
  missing: readonly string[],
): string {
  const where = `<#${channelId}>`;
  if (err.kind === "failing")
    return `I couldn't post my answer to your ${what} in ${where} — Discord kept failing. Please try again in a minute.`;
  if (missing.length > 0) {
    const names = missing.map((m) => `**${m}**`).join(" and ");
    return `I couldn't answer your ${what} in ${where}: I'm missing the ${names} permission there. A server admin can grant it — or ask me in another channel.`;
  }
  const code = err.code === undefined ? "" : ` (Discord error ${err.code})`;
  return `I couldn't answer your ${what} in ${where}: Discord refused my reply${code}. A server admin may need to check my permissions there.`;
}

/** The visible echo of an `/ask` question. */
export function echoText(name: string, question: string): string {
  let shown = question;
  if (shown.length > ECHO_MAX) {
    const cut = /[\ud800-\udbff]/.test(shown[ECHO_MAX - 1]!) ? ECHO_MAX - 1 : ECHO_MAX;
    shown = `${shown.slice(0, cut)}…`;
  }
  return `**${escapeMarkdown(name)}** asked:\n>>> ${shown}`;
}

function escapeMarkdown(s: string): string {
  return s.replace(/([\\*_~`|])/g, "\\$1");
}
