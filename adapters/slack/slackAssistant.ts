/**
 * Slack's AI app split view (the assistant container), through Bolt's `Assistant` middleware.
 *
 * - Opening the view starts an assistant thread in the app's DM: the bot greets and offers
 *   suggested prompts (`assistant.threads.setSuggestedPrompts`).
 * - Each assistant thread is one conversation (`slack:<team>:<DM>:<thread ts>`), with memory:
 *   its messages go through the same path as DM thread messages (placeholder, queue, streamed
 *   answer, Stop). The first question titles the thread (`assistant.threads.setTitle`, once).
 * - The context Slack reports (which channel the user is looking at) is not used: no thread
 *   context is stored (Bolt's default store would read and rewrite the thread's messages).
 * - `assistant:write` missing, or the app not set up as an agent in a workspace: the prompts and
 *   titles are latched off there (SlackFeatures); questions are still answered.
 */
import { Assistant } from "@slack/bolt";
import type { Redis } from "ioredis";
import type { SlackKeys } from "../../src/keys.ts";
import type { Logger } from "../../src/logger.ts";
import { normalizeUserText } from "../../src/text/normalizeUserText.ts";
import type { SlackFeatures } from "./SlackFeatures.ts";
import { slackError } from "./slackApiErrors.ts";
import { fromSlackText } from "./slackMessages.ts";

export const ASSISTANT_GREETING =
  "Hi! Ask me anything. Each chat here is its own conversation: I remember what we said in it. Press *Stop* under an answer to cut it short.";
export const SUGGESTED_PROMPTS_TITLE = "Try one of these";
export const SUGGESTED_PROMPTS = [
  { title: "Explain a concept", message: "Explain how a hash map works, with a short example." },
  { title: "Draft a message", message: "Help me write a short, friendly note telling my team the release moves to Friday." },
  { title: "Brainstorm", message: "Give me five names for a small internal tool that summarizes meeting notes." },
];
/** Longest thread title (the first question, shortened). */
export const TITLE_MAX = 60;
const TITLED_TTL_SECONDS = 30 * 24 * 3600;

type Loose = Record<string, unknown>;

export interface SlackAssistantDeps {
  redis: Redis;
  keys: SlackKeys;
  features: SlackFeatures;
  log: Logger;
  /** A question in an assistant thread: handled like any DM thread message. */
  onMessage(event: Loose, body: Loose, context: Loose, client: unknown): Promise<void>;
}

/** The thread's title from its first question. */
export function assistantTitle(text: string): string {
  const plain = normalizeUserText(fromSlackText(text)).replace(/\s+/g, " ").trim();
  return plain.length <= TITLE_MAX ? plain : `${plain.slice(0, TITLE_MAX - 1).trimEnd()}…`;
}

export function slackAssistant(deps: SlackAssistantDeps): Assistant {
  const { features, log } = deps;
  /** Calls needing `assistant:write` (prompts, title): skipped where refused. */
  const optional = async (teamId: string, what: string, call: () => Promise<unknown>) => {
    if (await features.isOff(teamId, "assistant")) return;
    try {
      await call();
    } catch (err) {
      if (!(await features.refused(teamId, "assistant", err)))
        log.warn({ err: slackError(err) ?? String(err), what }, "assistant call failed");
    }
  };
  return new Assistant({
    threadContextStore: { get: async () => ({}), save: async () => undefined },
    threadStarted: async ({ say, setSuggestedPrompts, context }) => {
      const teamId = String(context.teamId ?? "");
      await say(ASSISTANT_GREETING).catch((err: unknown) => log.warn({ err: slackError(err) ?? String(err) }, "could not greet"));
      await optional(teamId, "setSuggestedPrompts", () =>
        setSuggestedPrompts({ title: SUGGESTED_PROMPTS_TITLE, prompts: SUGGESTED_PROMPTS }),
      );
    },
    threadContextChanged: async () => undefined,
    userMessage: async ({ event, body, context, client, setTitle }) => {
      const e = event as unknown as Loose;
      await deps.onMessage(e, body as unknown as Loose, context as Loose, client);
      const teamId = String(context.teamId ?? "");
      const text = typeof e.text === "string" ? e.text : "";
      if (e.bot_id !== undefined || e.subtype !== undefined || !text.trim() || typeof e.thread_ts !== "string") return;
      const first = await deps.redis
        .set(deps.keys.assistantTitled(teamId, String(e.channel), e.thread_ts), "1", "EX", TITLED_TTL_SECONDS, "NX")
        .catch(() => null);
      if (first === "OK") await optional(teamId, "setTitle", () => setTitle(assistantTitle(text)));
    },
  });
}
