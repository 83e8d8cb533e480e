/**
 * The messages of a chat completion request, built so that consecutive turns of a conversation
 * share a byte-identical prefix: the server's prefix cache (llama-server's slots and `cache_prompt`,
 * vLLM's automatic prefix caching) then evaluates only the new message.
 *
 * The same text the local engine puts in its prompt, and nothing else: the system prompt, each
 * stored turn's `text` as stored (user turns carry no author-name prefix, as in the local prompt),
 * the new message. No field depends on the time or the request (no `name`, no ids), so turn N+1's
 * messages start with exactly turn N's messages and its stored reply.
 *
 * Every text goes through neutralizeSpecialTokens: the server renders the template and tokenizes
 * with special tokens parsed, so a typed `<|im_end|>` must not become the real token (the local
 * engine tokenizes message text as plain text and needs no such step). It is deterministic, so
 * the prefix stays byte-identical.
 */
import type { ChatCompletionMessageParam } from "openai/resources/chat/completions";
import { neutralizeSpecialTokens as plain } from "../../../src/text/neutralizeSpecialTokens.ts";
import type { ChatTurn } from "../../../src/types.ts";

export function chatMessages(systemPrompt: string, history: readonly ChatTurn[], userText: string): ChatCompletionMessageParam[] {
  const messages: ChatCompletionMessageParam[] = [{ role: "system", content: plain(systemPrompt) }];
  for (const turn of history) messages.push({ role: turn.role, content: plain(turn.text) });
  messages.push({ role: "user", content: plain(userText) });
  return messages;
}
