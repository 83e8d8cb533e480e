/**
 * The user turn of a reply: the message, with its context (replied-to message, thread, files)
 * rendered before it in a token budget. The context gets a share of what the model's context
 * leaves after the persona, the message and the reply budget; the rest stays for the
 * conversation's history, so a large file never pushes the whole history out. Counted with the
 * engine's synchronous count (exact locally, the estimate remotely).
 */
import { hasContext, type RequestContext } from "../src/context/RequestContext.ts";
import { type RenderedUserTurn, renderUserTurn } from "../src/context/renderUserTurn.ts";
import type { SettingValues } from "../src/settings/settingsCatalog.ts";
import type { Engine } from "./engine/Engine.ts";

/** Share of the free context the message's context may take (the rest is for history). */
export const CONTEXT_SHARE = 0.75;
/** Template tokens around the system prompt, the message and the reply's opening. */
const TEMPLATE_TOKENS = 16;

export function userTurnFor(
  engine: Pick<Engine, "info" | "countTokensSync">,
  text: string,
  context: RequestContext | undefined,
  s: Pick<SettingValues, "systemPrompt" | "maxNewTokens">,
): RenderedUserTurn {
  if (!hasContext(context)) return { prompt: text, memory: text };
  const count = (t: string) => engine.countTokensSync(t);
  const fixed = count(s.systemPrompt) + count(text) + s.maxNewTokens + TEMPLATE_TOKENS;
  const budget = Math.floor((engine.info.contextSize - fixed) * CONTEXT_SHARE);
  return renderUserTurn(text, context, { budget, measure: count });
}
