/**
 * Simulated users of a chat platform in `npm run chaos` (Discord, Slack): one user per
 * conversation posts its messages in order, paced (seeded) over the sending phase, and waits for
 * the bot's reply to each before the next — as a person would. A refusal ("try again in a
 * minute", Redis down) or no reply at all (the adapter process was dead when the message was
 * posted, so the platform never delivered it) makes the user post the message again, as a new
 * message with its own text (`… try 2`), so every attempt is told apart in memory. Which
 * attempts were really taken is decided at the end from what the platform shows
 * (platformTraffic.ts), not here.
 */
import { mulberry32 } from "../random.ts";

/** One message a simulated user posted. */
export interface Attempt {
  conv: number;
  /** The message's position in its conversation. */
  index: number;
  /** 1 for the first post of this message, 2 for the next after a refusal or silence, … */
  attempt: number;
  text: string;
  /** The platform's id of the user's message (Discord: message id; Slack: ts). */
  userMessageId: string;
  /** The conversation as the adapter keys it (Slack: the thread, known once the first message is taken). */
  conversationKey: string;
  /** The request id the adapter gives this message. */
  requestId: string;
  sentAt: number;
  /** When the user saw a reply that was not a refusal (ms since the epoch). */
  seenAt?: number;
}

export type ReplySeen = "none" | "refused" | "taken";

/** What a platform lets a simulated user do. */
export interface UserSide {
  /** Post message `index` of conversation `conv` with `text`; the attempt, without its outcome. */
  say(conv: number, index: number, attempt: number, text: string): Attempt;
  /** What the bot has shown so far in reply to the attempt. */
  reply(a: Attempt): ReplySeen;
  /** True while the platform's adapter is known to be down (its silence then does not count). */
  adapterDown(): boolean;
}

export interface UserOptions {
  conversations: number;
  perConversation: number;
  sendMs: number;
  seed: number;
  /** How long a user waits for a reply (while the adapter is up) before posting again. */
  replyWaitMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
/** Far more than any run needs: a message that cannot get through at all fails the run. */
const MAX_ATTEMPTS = 30;

/** The text of an attempt: unique per conversation, message and attempt. */
export function attemptText(conv: number, index: number, attempt: number): string {
  return `conversation ${conv} message ${index}${attempt > 1 ? ` try ${attempt}` : ""}`;
}

/** Run every user; resolves with all attempts, in the order posted. `onFirst` fires once the first reply is seen. */
export async function runUsers(side: UserSide, o: UserOptions, onFirst: () => void): Promise<Attempt[]> {
  const attempts: Attempt[] = [];
  const meanGapMs = o.sendMs / o.perConversation;
  let first = true;
  await Promise.all(
    Array.from({ length: o.conversations }, async (_, conv) => {
      const random = mulberry32(o.seed * 7919 + conv);
      await sleep(random() * meanGapMs);
      for (let index = 0; index < o.perConversation; index++) {
        for (let attempt = 1; ; attempt++) {
          if (attempt > MAX_ATTEMPTS) throw new Error(`conversation ${conv} message ${index}: no reply after ${MAX_ATTEMPTS} posts`);
          const a = side.say(conv, index, attempt, attemptText(conv, index, attempt));
          attempts.push(a);
          let waited = 0;
          let seen: ReplySeen = "none";
          while (waited < o.replyWaitMs) {
            seen = side.reply(a);
            if (seen !== "none") break;
            await sleep(100);
            if (!side.adapterDown()) waited += 100;
          }
          if (seen === "taken") {
            a.seenAt = Date.now();
            if (first) {
              first = false;
              onFirst();
            }
            break;
          }
          // After a refusal, a moment before posting again (as a person would; a second refusal of the
          // same message — Slack delivers a mention twice — then lands before the next post).
          await sleep(seen === "refused" ? 1500 : 0);
        }
        if (random() < 0.8) await sleep(-Math.log(1 - random()) * meanGapMs * 1.25);
      }
    }),
  );
  return attempts;
}
