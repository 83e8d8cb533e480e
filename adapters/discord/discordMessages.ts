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
  attachmentsIgnored: "attachments are ignored — I can only read text",
  onlyAttachments: "I can only read text — attachments are ignored. Write your question in the message.",
  threadHint: "I can only read messages here that mention me or reply to one of mine.",
  unknownCommand: "Unknown command.",
  unknownButton: "Unknown button.",
  regenerateNotLatest: "Only the latest answer of this conversation can be regenerated.",
  regenerating: "⏳ Regenerating…",
  cannotPostAnswer: "I couldn't post my answer in this channel — do I have permission to send messages here?",
  onlyAsker: (asker: string, action: "stop" | "regen"): string =>
    `Only ${asker}, who asked, can ${action === "stop" ? "stop" : "regenerate"} this answer.`,
  resetDone: (what: string): string => `🧹 Done — I've forgotten ${what}.`,
} as const;

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
