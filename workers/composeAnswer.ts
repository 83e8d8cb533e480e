/**
 * A finished generation as the answer the worker decides on: the notes shown under the text
 * (stopped, token limit, history left out, context left out, empty answer) and the turns to
 * remember (the user's message with a short mention of its context — not for a regenerate — and
 * the assistant's answer).
 */
import type { RenderedUserTurn } from "../src/context/renderUserTurn.ts";
import type { DecidedAnswer } from "../src/queue/ConversationInbox.ts";
import type { ChatRequest, ChatTurn } from "../src/types.ts";
import type { GenerateResult, ModelRunner } from "./inference/ModelRunner.ts";

/** How the reply's prompt was fitted: what was dropped, the user turn as prompted and as remembered. */
export interface ComposeFit {
  /** Turns left out because they did not fit the context. */
  dropped: number;
  /** Turns left out by the place's history length. */
  cut: number;
  userTokens: number;
  turn: RenderedUserTurn;
  maxNewTokens: number;
}

export function composeAnswer(
  request: ChatRequest,
  result: GenerateResult,
  fit: ComposeFit,
  epoch: string,
  runner: Pick<ModelRunner, "turnTokens">,
): { answer: DecidedAnswer; note: string | undefined } {
  const { turn } = fit;
  const notes: string[] = [];
  if (result.stopReason === "abort") notes.push("stopped");
  else if (result.stopReason === "maxTokens") notes.push(`reached the ${fit.maxNewTokens}-token limit`);
  if (fit.dropped > 0) notes.push("older messages of this conversation were left out to fit the model's memory");
  if (turn.omitted) notes.push(turn.omitted);
  if (result.text.length === 0 && result.stopReason !== "abort") notes.push("the model gave an empty answer");
  const note = notes.length > 0 ? notes.join(" · ") : undefined;
  const turns: ChatTurn[] = [];
  if (!request.regenerate) {
    const tokens = turn.memory === turn.prompt ? fit.userTokens : runner.turnTokens({ text: turn.memory });
    turns.push({ role: "user", text: turn.memory, name: request.author.name, tokens, at: request.receivedAt });
  }
  turns.push({ role: "assistant", text: result.text, tokens: runner.turnTokens({ text: result.text }), at: Date.now() });
  const answer: DecidedAnswer = {
    text: result.text,
    note,
    turns,
    dropOldest: fit.cut + fit.dropped,
    replaceLastAssistant: request.regenerate === true,
    epoch,
  };
  return { answer, note };
}
