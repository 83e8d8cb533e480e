/**
 * What the engine learns from the server once it answers: which model to ask for (checked against
 * `/v1/models`), what kind of server it is, its context size, how to count tokens, and how many
 * tokens its chat template puts around each message.
 *
 * - llama-server: `/v1/models` entries are `owned_by: "llamacpp"`; `GET /props` →
 *   `default_generation_settings.n_ctx` (per slot) and `total_slots`; `POST /tokenize {content}`;
 *   `POST /apply-template {messages}` → `{prompt}` renders the template.
 * - vLLM: `/v1/models` entries carry `max_model_len` (`owned_by: "vllm"`); `POST /tokenize` takes
 *   `{model, prompt}` or `{model, messages}` and answers `{count}`.
 * - Anything else (Ollama, SGLang, LM Studio): the model list only; token counts are estimated,
 *   the context size comes from OPENAI_CONTEXT_SIZE (else 4096).
 */
import type OpenAI from "openai";
import { EngineError } from "../../../src/errors.ts";
import { pick, positiveInt, requestJson, type ServerHttp, safeUrl } from "./serverHttp.ts";
import type { TokenizerKind } from "./TokenCounter.ts";
import { toEngineError } from "./toEngineError.ts";

export type ServerBackend = "llama-server" | "vLLM" | "OpenAI-compatible";

export interface ServerFacts {
  backend: ServerBackend;
  /** The model name requests carry. */
  model: string;
  /** Every model the server lists. */
  models: string[];
  /** The context the server reports for one request (llama-server: per slot), if it does. */
  serverContextSize: number | undefined;
  /** llama-server's parallel slots, if it says. */
  totalSlots: number | undefined;
  tokenizer: TokenizerKind;
  /** Template tokens around one message and opening the reply: measured where the server can render its template. */
  template: { turnOverheadTokens: number; replyPrefixTokens: number; measured: boolean };
}

/**
 * Used when the template cannot be measured: above ChatML's 5 and 3 (Qwen), Llama 3's 5 and 4,
 * Gemma's 5 and 3, leaving room for templates that add a little more.
 */
export const DEFAULT_TEMPLATE = { turnOverheadTokens: 8, replyPrefixTokens: 5 } as const;

interface ModelEntry {
  id: string;
  aliases: string[];
  ownedBy: string;
  maxModelLen: number | undefined;
  nCtx: number | undefined;
}

export async function discoverServer(client: OpenAI, http: ServerHttp, wanted: string | undefined): Promise<ServerFacts> {
  let entries: ModelEntry[];
  try {
    const page = await client.models.list();
    entries = page.data.map((m) => {
      const raw = m as unknown as Record<string, unknown>;
      const aliases = Array.isArray(raw.aliases) ? raw.aliases.filter((a): a is string => typeof a === "string") : [];
      return {
        id: m.id,
        aliases,
        ownedBy: String(m.owned_by ?? ""),
        maxModelLen: positiveInt(raw.max_model_len),
        nCtx: positiveInt(pick(raw, "meta", "n_ctx")),
      };
    });
  } catch (err) {
    throw toEngineError(err, `listing the models at ${safeUrl(client.baseURL)}/models`);
  }
  const entry = chooseModel(entries, wanted, client.baseURL);
  const backend: ServerBackend =
    entry.ownedBy === "llamacpp" ? "llama-server" : entry.ownedBy === "vllm" || entry.maxModelLen ? "vLLM" : "OpenAI-compatible";
  let serverContextSize = entry.maxModelLen ?? entry.nCtx;
  let totalSlots: number | undefined;
  if (backend === "llama-server") {
    const props = await requestJson(http, "/props").catch(() => undefined);
    serverContextSize = positiveInt(pick(props?.body, "default_generation_settings", "n_ctx")) ?? serverContextSize;
    totalSlots = positiveInt(pick(props?.body, "total_slots"));
  }
  const tokenizer = await detectTokenizer(http, entry.id);
  const template = (await measureTemplate(http, tokenizer, entry.id).catch(() => undefined)) ?? { ...DEFAULT_TEMPLATE, measured: false };
  return { backend, model: entry.id, models: entries.map((e) => e.id), serverContextSize, totalSlots, tokenizer, template };
}

function chooseModel(entries: ModelEntry[], wanted: string | undefined, baseURL: string): ModelEntry {
  const listed = entries.length > 0 ? entries.map((e) => e.id).join(", ") : "(none)";
  if (wanted === undefined) {
    const first = entries[0];
    if (!first) throw new EngineError("ENGINE_MODEL_NOT_FOUND", `the server at ${safeUrl(baseURL)} lists no model (GET /models)`);
    return first;
  }
  // Ollama names a model without a tag as its `:latest`; llama-server answers to its aliases too.
  const found = entries.find((e) => e.id === wanted || e.aliases.includes(wanted) || e.id === `${wanted}:latest`);
  if (found) return { ...found, id: wanted };
  throw new EngineError(
    "ENGINE_MODEL_NOT_FOUND",
    `OPENAI_MODEL "${wanted}" is not served by ${safeUrl(baseURL)}; its /models lists: ${listed}`,
  );
}

async function detectTokenizer(http: ServerHttp, model: string): Promise<TokenizerKind> {
  const llama = await requestJson(http, "/tokenize", { content: "Hello world" }).catch(() => undefined);
  if (llama?.status === 200 && Array.isArray(pick(llama.body, "tokens"))) return "llama";
  const vllm = await requestJson(http, "/tokenize", { model, prompt: "Hello world", add_special_tokens: false }).catch(() => undefined);
  if (vllm?.status === 200 && typeof pick(vllm.body, "count") === "number") return "vllm";
  return "estimate";
}

type Message = { role: "system" | "user" | "assistant"; content: string };
const SHORT: Message[] = [
  { role: "system", content: "a" },
  { role: "user", content: "b" },
];
const LONG: Message[] = [...SHORT, { role: "assistant", content: "c" }, { role: "user", content: "d" }];

/**
 * Tokens the template adds: render [system, user] and [system, user, assistant, user] with the
 * reply's opening, count both; the two extra messages' overhead is the difference less their text.
 */
async function measureTemplate(http: ServerHttp, tokenizer: TokenizerKind, model: string): Promise<ServerFacts["template"] | undefined> {
  let promptTokens: (messages: Message[]) => Promise<number | undefined>;
  let textTokens: (text: string) => Promise<number | undefined>;
  if (tokenizer === "llama") {
    const count = async (content: string) => {
      const tokens = pick((await requestJson(http, "/tokenize", { content })).body, "tokens");
      return Array.isArray(tokens) ? tokens.length : undefined;
    };
    promptTokens = async (messages) => {
      const prompt = pick((await requestJson(http, "/apply-template", { messages })).body, "prompt");
      return typeof prompt === "string" ? count(prompt) : undefined;
    };
    textTokens = count;
  } else if (tokenizer === "vllm") {
    const count = async (body: object) => {
      const n = pick((await requestJson(http, "/tokenize", { model, ...body })).body, "count");
      return typeof n === "number" ? n : undefined;
    };
    promptTokens = (messages) => count({ messages, add_generation_prompt: true });
    textTokens = (text) => count({ prompt: text, add_special_tokens: false });
  } else return undefined;
  const [short, long, a, b, c, d] = await Promise.all([
    promptTokens(SHORT),
    promptTokens(LONG),
    ...["a", "b", "c", "d"].map((t) => textTokens(t)),
  ]);
  if (short === undefined || long === undefined || a === undefined || b === undefined || c === undefined || d === undefined)
    return undefined;
  const turnOverheadTokens = Math.ceil((long - short - c - d) / 2);
  const replyPrefixTokens = short - 2 * turnOverheadTokens - a - b;
  if (turnOverheadTokens < 1 || turnOverheadTokens > 64 || replyPrefixTokens < 0 || replyPrefixTokens > 64) return undefined;
  return { turnOverheadTokens, replyPrefixTokens, measured: true };
}
