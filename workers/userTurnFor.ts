/**
 * The user turn of a reply: the message, with its context (replied-to message, thread, files)
 * rendered before it in a token budget. The context gets a share of what the model's context
 * leaves after the persona, the message and the reply budget; the rest stays for the
 * conversation's history, so a large file never pushes the whole history out.
 */
import { hasContext, type RequestContext } from "../src/context/RequestContext.ts";
import { type RenderedUserTurn, renderUserTurn } from "../src/context/renderUserTurn.ts";
import type { SettingValues } from "../src/settings/settingsCatalog.ts";

/** Share of the free context the message's context may take (the rest is for history). */
export const CONTEXT_SHARE = 0.75;
/** Template tokens around the system prompt, the message and the reply's opening. */
const TEMPLATE_TOKENS = 16;

export interface TokenCounter {
  readonly contextSize: number;
  countTokens(text: string): number;
}

export function userTurnFor(
  counter: TokenCounter,
  text: string,
  context: RequestContext | undefined,
  s: Pick<SettingValues, "systemPrompt" | "maxNewTokens">,
): RenderedUserTurn {
  if (!hasContext(context)) return { prompt: text, memory: text };
  const fixed = counter.countTokens(s.systemPrompt) + counter.countTokens(text) + s.maxNewTokens + TEMPLATE_TOKENS;
  const budget = Math.floor((counter.contextSize - fixed) * CONTEXT_SHARE);
  return renderUserTurn(text, context, { budget, measure: (t) => counter.countTokens(t) });
}
