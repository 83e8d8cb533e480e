/**
 * The model's chat template as node-llama-cpp resolves it (its ChatML wrapper for Qwen2): renders a
 * conversation into the prompt's tokens, says which tokens or texts end a reply, and what the
 * template adds around each message (for fitting a history, see fitHistory).
 *
 * Why its own module: everything that depends on the template lives here, apart from the
 * generation loop and the sequence bookkeeping, so a model with another template changes this
 * file only.
 */
import { type ChatHistoryItem, type ChatWrapper, type LlamaModel, LlamaText, resolveChatWrapper, type Token } from "node-llama-cpp";
import type { ChatTurn } from "../../src/types.ts";

/** `<|im_start|>role\n` … `<|im_end|>\n`: the template tokens around each ChatML message. */
const TURN_OVERHEAD_TOKENS = 5;
/** `<|im_start|>assistant\n` opening the reply. */
const REPLY_PREFIX_TOKENS = 3;

export interface StopTriggers {
  /** Special-token sequences that end a reply. */
  tokens: Token[][];
  /** Texts that end a reply. */
  texts: string[];
}

export class ChatTemplate {
  readonly wrapper: ChatWrapper;
  readonly stops: StopTriggers;
  /** Template tokens around each message (ChatML's, whatever the model's template). */
  readonly turnOverheadTokens = TURN_OVERHEAD_TOKENS;
  /** Template tokens opening the reply (ChatML's). */
  readonly replyPrefixTokens = REPLY_PREFIX_TOKENS;

  constructor(private readonly model: LlamaModel) {
    this.wrapper = resolveChatWrapper(model);
    this.stops = this.resolveStopTriggers();
  }

  /** The prompt's tokens as the chat template renders them (system prompt, turns, the reply's opening). */
  render(systemPrompt: string, history: readonly ChatTurn[], userText: string): Token[] {
    const chatHistory: ChatHistoryItem[] = [{ type: "system", text: systemPrompt }];
    for (const turn of history) {
      chatHistory.push(turn.role === "user" ? { type: "user", text: turn.text } : { type: "model", response: [turn.text] });
    }
    chatHistory.push({ type: "user", text: userText }, { type: "model", response: [] });
    const { contextText } = this.wrapper.generateContextState({ chatHistory });
    return contextText.tokenize(this.model.tokenizer);
  }

  private resolveStopTriggers(): StopTriggers {
    const { model } = this;
    const { stopGenerationTriggers } = this.wrapper.generateContextState({ chatHistory: [{ type: "model", response: [] }] });
    const tokens: Token[][] = [];
    const texts: string[] = [];
    for (const trigger of stopGenerationTriggers) {
      const ids = LlamaText(trigger).tokenize(model.tokenizer);
      if (ids.length > 0 && ids.every((t) => model.isSpecialToken(t))) tokens.push(ids);
      else {
        const text = LlamaText(trigger).toString();
        if (text.length > 0) texts.push(text);
      }
    }
    return { tokens, texts };
  }
}
