/**
 * A finished generation as the answer the worker decides on: the notes shown under the text
 * (stopped, token limit, history left out, empty answer) and the turns to remember (the user's
 * message — not for a regenerate — and the assistant's answer).
 */
import type { DecidedAnswer } from "../src/queue/ConversationInbox.ts";
import type { ChatRequest, ChatTurn } from "../src/types.ts";
import type { GenerateResult, ModelRunner } from "./inference/ModelRunner.ts";

export function composeAnswer(
  request: ChatRequest,
  result: GenerateResult,
  fit: { dropped: number; userTokens: number },
  epoch: string,
  maxNewTokens: number,
  runner: Pick<ModelRunner, "turnTokens">,
): { answer: DecidedAnswer; note: string | undefined } {
  const notes: string[] = [];
  if (result.stopReason === "abort") notes.push("stopped");
  else if (result.stopReason === "maxTokens") notes.push(`reached the ${maxNewTokens}-token limit`);
  if (fit.dropped > 0) notes.push("older messages of this conversation were left out to fit the model's memory");
  if (result.text.length === 0 && result.stopReason !== "abort") notes.push("the model gave an empty answer");
  const note = notes.length > 0 ? notes.join(" · ") : undefined;
  const turns: ChatTurn[] = [];
  if (!request.regenerate)
    turns.push({ role: "user", text: request.text, name: request.author.name, tokens: fit.userTokens, at: request.receivedAt });
  turns.push({ role: "assistant", text: result.text, tokens: runner.turnTokens({ text: result.text }), at: Date.now() });
  const answer: DecidedAnswer = {
    text: result.text,
    note,
    turns,
    dropOldest: fit.dropped,
    replaceLastAssistant: request.regenerate === true,
    epoch,
  };
  return { answer, note };
}
