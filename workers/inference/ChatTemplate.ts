/**
 * The model's own chat template, as node-llama-cpp resolves it from the GGUF (a specialized wrapper
 * such as ChatML, Qwen, Llama 3 or Gemma when the embedded Jinja template is equivalent to one,
 * else the Jinja template itself): renders a conversation into the prompt's tokens, says which
 * tokens or texts end a reply, how a reasoning model's thought is told apart from its answer, and
 * what the template adds around each message, measured on this template (for fitting a history).
 *
 * A model whose template node-llama-cpp cannot resolve (no usable `tokenizer.chat_template`, nothing
 * in its name or architecture naming one) is refused at load with MODEL_INVALID rather than chatted
 * with through a guessed format (see docs/models.md).
 *
 * Why its own module: everything that depends on the template lives here, apart from the
 * generation loop and the sequence bookkeeping, so another model changes nothing else.
 */
import {
  type ChatHistoryItem,
  type ChatModelResponse,
  type ChatWrapper,
  GeneralChatWrapper,
  type LlamaModel,
  LlamaText,
  resolveChatWrapper,
  type Token,
} from "node-llama-cpp";
import { ModelError } from "../../src/errors.ts";
import type { ChatTurn } from "../../src/types.ts";

export interface StopTriggers {
  /** Special-token sequences that end a reply. */
  tokens: Token[][];
  /** Texts that end a reply. */
  texts: string[];
}

/** How a reasoning model's thought (Qwen3's `<think>…</think>`) is told apart from its answer. */
export interface ThoughtMarkers {
  /** Tokens that open a thought at the very start of a reply (empty when only `openAtStart` opens one). */
  open: Token[];
  /** Tokens that close the thought: the answer follows them. */
  close: Token[];
  /** The reply opening already opened the thought: the reply starts inside it. */
  openAtStart: boolean;
}

/** Texts of the probe conversation the template's overheads are measured on. */
const PROBE = {
  system: "You are a careful assistant.",
  user: "What is the capital of France?",
  reply: "The capital of France is Paris.",
  next: "And of Italy?",
};

/**
 * The wrapper node-llama-cpp resolves for `model`. node-llama-cpp falls back to its GeneralChatWrapper
 * (a generic `### User:` format no model was trained on) when nothing identifies the template: that
 * is refused.
 */
export function resolveModelChatWrapper(model: LlamaModel): ChatWrapper {
  const wrapper = resolveChatWrapper(model);
  if (wrapper instanceof GeneralChatWrapper) {
    const embedded = model.fileInfo.metadata?.tokenizer?.chat_template;
    const why =
      typeof embedded === "string" && embedded.trim() !== ""
        ? "its embedded chat template (tokenizer.chat_template) could not be used"
        : "it carries no chat template (tokenizer.chat_template) and nothing in its name or architecture names one";
    throw new ModelError(
      "MODEL_INVALID",
      `MODEL ${model.filename ?? "(unnamed)"}: ${why}. Use a GGUF of a chat/instruct model that embeds its chat template (current conversions all do).`,
    );
  }
  return wrapper;
}

export class ChatTemplate {
  readonly wrapper: ChatWrapper;
  readonly stops: StopTriggers;
  /** How a thought is recognized, when the template has reasoning segments (undefined: it has none). */
  readonly thought: ThoughtMarkers | undefined;
  /** Template tokens around each message, measured on this template (the larger of a user's and an answer's, rounded up). */
  readonly turnOverheadTokens: number;
  /** Template tokens the prompt has besides the messages and their overheads: the reply's opening, a BOS token. */
  readonly replyPrefixTokens: number;

  /** `wrapper`: the model's own as already resolved (loadModel does), or one a test picks; by default resolved here. */
  constructor(
    private readonly model: LlamaModel,
    wrapper?: ChatWrapper,
  ) {
    this.wrapper = wrapper ?? resolveModelChatWrapper(model);
    this.stops = this.resolveStopTriggers();
    this.thought = this.resolveThoughtMarkers();
    const overheads = this.measureOverheads();
    this.turnOverheadTokens = overheads.turnOverheadTokens;
    this.replyPrefixTokens = overheads.replyPrefixTokens;
  }

  /** The wrapper's name ("ChatML", "Qwen", "Llama 3", "Gemma", "Jinja", …), for logs and status. */
  get name(): string {
    return this.wrapper.wrapperName;
  }

  /** The prompt's tokens as the chat template renders them (system prompt, turns, the reply's opening). */
  render(systemPrompt: string, history: readonly ChatTurn[], userText: string): Token[] {
    const chatHistory: ChatHistoryItem[] = [{ type: "system", text: systemPrompt }];
    for (const turn of history) {
      chatHistory.push(turn.role === "user" ? { type: "user", text: turn.text } : { type: "model", response: [turn.text] });
    }
    chatHistory.push({ type: "user", text: userText }, { type: "model", response: this.replyOpening() });
    const { contextText } = this.wrapper.generateContextState({ chatHistory });
    return contextText.tokenize(this.model.tokenizer);
  }

  /** The reply as it starts: inside an open thought when the template opens one on every reply (as node-llama-cpp's LlamaChat does). */
  private replyOpening(): ChatModelResponse["response"] {
    if (this.wrapper.settings.segments?.thought?.openOnResponseStart !== true) return [];
    return [{ type: "segment", segmentType: "thought", text: "", ended: false }];
  }

  private tokenCount(text: string): number {
    return this.model.tokenize(text, false).length;
  }

  /**
   * What the template adds, from two renderings of a probe conversation: without history, and with
   * one exchange. The difference, less the exchange's own text, is two turns' overhead; what the
   * first rendering has besides its texts and two turns' overhead is the reply's opening (and a BOS
   * token, and whatever a template without system messages puts around the system prompt).
   */
  private measureOverheads(): { turnOverheadTokens: number; replyPrefixTokens: number } {
    const { system, user, reply, next } = PROBE;
    const bare = this.render(system, [], next).length;
    const exchange: ChatTurn[] = [
      { role: "user", text: user, at: 0 },
      { role: "assistant", text: reply, at: 0 },
    ];
    const withExchange = this.render(system, exchange, next).length;
    const pair = withExchange - bare - this.tokenCount(user) - this.tokenCount(reply);
    const turnOverheadTokens = Math.max(0, Math.ceil(pair / 2));
    const replyPrefixTokens = Math.max(0, bare - this.tokenCount(system) - this.tokenCount(next) - 2 * turnOverheadTokens);
    return { turnOverheadTokens, replyPrefixTokens };
  }

  private resolveStopTriggers(): StopTriggers {
    const { model } = this;
    const { stopGenerationTriggers } = this.wrapper.generateContextState({ chatHistory: [{ type: "model", response: [] }] });
    const tokens: Token[][] = [];
    const texts: string[] = [];
    const special = (ids: Token[]) => ids.length > 0 && ids.every((t) => model.isSpecialToken(t));
    for (const trigger of stopGenerationTriggers) {
      const ids = LlamaText(trigger).tokenize(model.tokenizer);
      if (special(ids)) tokens.push(ids);
      else {
        const text = LlamaText(trigger).toString();
        if (text.length > 0) texts.push(text);
        // `<end_of_turn>\n` (Gemma): the special tokens before the whitespace end the reply already.
        const trimmed = LlamaText(trigger).trimEnd().tokenize(model.tokenizer);
        if (trimmed.length < ids.length && special(trimmed)) tokens.push(trimmed);
      }
    }
    return { tokens, texts };
  }

  /** The thought segment's markers as tokens (their surrounding whitespace left out: it belongs to neither side). */
  private resolveThoughtMarkers(): ThoughtMarkers | undefined {
    const thought = this.wrapper.settings.segments?.thought;
    if (!thought || thought.suffix === undefined) return undefined;
    const close = this.markerTokens(thought.suffix);
    if (close.length === 0) return undefined;
    const openedOnStart =
      typeof thought.prefix === "object" && !LlamaText.isLlamaText(thought.prefix) && thought.prefix.type === "openedOnStart";
    const open = openedOnStart ? [] : this.markerTokens(thought.prefix as string | LlamaText);
    return { open, close, openAtStart: openedOnStart || thought.openOnResponseStart === true };
  }

  private markerTokens(marker: string | LlamaText): Token[] {
    const text = LlamaText(marker).toString().trim();
    return text === "" ? [] : this.model.tokenize(text, true);
  }
}
