/**
 * Fits a conversation's history into a context window when counting tokens is asynchronous (a
 * remote engine asks its server's tokenizer): the newest turns that fit beside the system prompt,
 * the new message and the reply budget.
 *
 * The same rules as workers/inference/fitHistory.ts (the local engine's synchronous version, over
 * the same `TokenBudget` shape); only the counter may return a promise. Turns are counted newest
 * first and only until the budget runs out, so a long history costs no more requests than fit.
 */
import type { ChatTurn } from "../../src/types.ts";
import type { FittedHistory } from "./Engine.ts";

export interface AsyncTokenBudget {
  /** Tokens the context holds: prompt and reply together. */
  readonly contextSize: number;
  /** Tokens of `text` on its own (no template around it). */
  countTokens(text: string): number | Promise<number>;
  /** Template tokens around each message (its role header and end marker). */
  readonly turnOverheadTokens: number;
  /** Template tokens opening the reply. */
  readonly replyPrefixTokens: number;
}

export async function fitHistoryAsync(
  budget: AsyncTokenBudget,
  systemPrompt: string,
  history: readonly ChatTurn[],
  userText: string,
  maxNewTokens: number,
): Promise<FittedHistory> {
  const { contextSize, turnOverheadTokens } = budget;
  const [systemTokens, userOnly] = await Promise.all([budget.countTokens(systemPrompt), budget.countTokens(userText)]);
  const fixed = systemTokens + turnOverheadTokens + budget.replyPrefixTokens + maxNewTokens;
  const userTokens = userOnly + turnOverheadTokens;
  const maxUserTokens = contextSize - fixed - turnOverheadTokens;
  if (fixed + userTokens > contextSize) return { history: [], dropped: history.length, userTokens, tooLong: true, maxUserTokens };
  let remaining = contextSize - fixed - userTokens;
  let start = history.length;
  while (start > 0) {
    const turn = history[start - 1]!;
    const cost = turn.tokens ?? (await budget.countTokens(turn.text)) + turnOverheadTokens;
    if (cost > remaining) break;
    remaining -= cost;
    start--;
  }
  // A kept history starts with a user turn, so the model never sees an answer without its question.
  while (start < history.length && history[start]!.role !== "user") start++;
  return { history: history.slice(start), dropped: start, userTokens, tooLong: false, maxUserTokens };
}
