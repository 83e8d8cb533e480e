/**
 * A finished generation as the answer the worker decides on: the notes shown under the text
 * (stopped, token limit, the engine's context full, history left out, context left out, empty answer) and the turns to
 * remember (the user's message with a short mention of its context — not for a regenerate — and
 * the assistant's answer).
 */
import type { RenderedUserTurn } from "../src/context/renderUserTurn.ts";
import type { DecidedAnswer } from "../src/queue/ConversationInbox.ts";
import type { ChatRequest, ChatTurn } from "../src/types.ts";
import type { WorkerResult } from "./chatWorkerTypes.ts";
import type { Engine } from "./engine/Engine.ts";

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

/** Shown when the engine's context ran out before the reply's token limit (a remote server's finish_reason `length`). */
export const CONTEXT_FULL_NOTE = "cut short: the conversation filled the model's context";

export async function composeAnswer(
  request: ChatRequest,
  result: WorkerResult,
  fit: ComposeFit,
  epoch: string,
  engine: Pick<Engine, "turnTokens">,
): Promise<{ answer: DecidedAnswer; note: string | undefined }> {
  const { turn } = fit;
  const notes: string[] = [];
  if (result.stopReason === "abort") notes.push("stopped");
  else if (result.stopReason === "maxTokens") notes.push(`reached the ${fit.maxNewTokens}-token limit`);
  else if (result.stopReason === "contextFull") notes.push(CONTEXT_FULL_NOTE);
  if (fit.dropped > 0) notes.push("older messages of this conversation were left out to fit the model's memory");
  if (turn.omitted) notes.push(turn.omitted);
  if (result.text.length === 0 && result.stopReason !== "abort") notes.push("the model gave an empty answer");
  const note = notes.length > 0 ? notes.join(" · ") : undefined;
  const turns: ChatTurn[] = [];
  if (!request.regenerate) {
    const tokens = turn.memory === turn.prompt ? fit.userTokens : await engine.turnTokens(turn.memory);
    turns.push({ role: "user", text: turn.memory, name: request.author.name, tokens, at: request.receivedAt });
  }
  turns.push({ role: "assistant", text: result.text, tokens: await engine.turnTokens(result.text), at: Date.now() });
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
