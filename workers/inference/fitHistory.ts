/**
 * Fits a conversation's history into a context window: the newest turns that fit beside the
 * system prompt, the new message and the reply budget.
 *
 * Why its own module: fitting needs nothing from the engine but a token counter, the context size
 * and what the chat template adds around each message, so any engine (the local model today, a
 * remote one that counts with its server's tokenizer or a safe estimate) fits histories the same way.
 */
import type { ChatTurn } from "../../src/types.ts";

/** What fitting a history needs to know about an engine and its chat template. */
export interface TokenBudget {
  /** Tokens the context holds: prompt and reply together. */
  readonly contextSize: number;
  /** Tokens of `text` on its own (no template around it). */
  countTokens(text: string): number;
  /** Template tokens around each message (its role header and end marker). */
  readonly turnOverheadTokens: number;
  /** Template tokens opening the reply. */
  readonly replyPrefixTokens: number;
}

export interface FittedHistory {
  history: ChatTurn[];
  /** Turns left out because they did not fit the context. */
  dropped: number;
  userTokens: number;
  /** True when the user's message alone does not fit the context with the reply budget. */
  tooLong: boolean;
  /** Most tokens a user message may have here. */
  maxUserTokens: number;
}

/** Tokens one turn takes in the prompt: its text and the template around it. */
export function turnTokens(budget: TokenBudget, turn: Pick<ChatTurn, "text">): number {
  return budget.countTokens(turn.text) + budget.turnOverheadTokens;
}

/**
 * Keep the newest turns that fit the context beside the system prompt, the new message and
 * the reply budget; older ones are left out (the system prompt is always kept). A turn's stored
 * `tokens` is used when it has one.
 */
export function fitHistory(
  budget: TokenBudget,
  systemPrompt: string,
  history: readonly ChatTurn[],
  userText: string,
  maxNewTokens: number,
): FittedHistory {
  const { contextSize, turnOverheadTokens } = budget;
  const fixed = budget.countTokens(systemPrompt) + turnOverheadTokens + budget.replyPrefixTokens + maxNewTokens;
  const userTokens = budget.countTokens(userText) + turnOverheadTokens;
  const maxUserTokens = contextSize - fixed - turnOverheadTokens;
  if (fixed + userTokens > contextSize) return { history: [], dropped: history.length, userTokens, tooLong: true, maxUserTokens };
  let remaining = contextSize - fixed - userTokens;
  let start = history.length;
  while (start > 0) {
    const turn = history[start - 1]!;
    const cost = turn.tokens ?? turnTokens(budget, turn);
    if (cost > remaining) break;
    remaining -= cost;
    start--;
  }
  // A kept history starts with a user turn, so the model never sees an answer without its question.
  while (start < history.length && history[start]!.role !== "user") start++;
  return { history: history.slice(start), dropped: start, userTokens, tooLong: false, maxUserTokens };
}
