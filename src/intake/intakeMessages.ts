/**
 * What a sender is told when a message is not taken, the same on every platform (Discord, Slack,
 * the terminal). Platform-only texts (Slack's usage line, Discord's attachment notes, "I can't
 * post here" with the platform's reason) live beside their adapters.
 */

const n = (x: number): string => x.toLocaleString("en-US");

export const INTAKE_TEXT = {
  /** Redis is down: nothing was taken. */
  unavailable: "I can't take messages right now — please try again in a minute.",
  /** Something unexpected (a bug) stopped the message. */
  somethingWrong: "Sorry — something went wrong on my side. Please try again.",
  empty: "Your message is empty — write a question after the mention.",
  tooLong: (length: number, max: number): string =>
    `Your message is ${n(length)} characters; the most I accept is ${n(max)}. Please shorten it.`,
  /** Never shown in practice: a duplicate is withdrawn silently. */
  duplicate: "This message was already received.",
  rateLimited: (inLastMinute: number): string =>
    `You're sending messages faster than I can answer (${inLastMinute} in the last minute). Please wait a moment and try again.`,
  queueFull: (waiting: number): string =>
    `This conversation already has ${waiting} messages waiting. Please wait for the answers before sending more.`,
} as const;
