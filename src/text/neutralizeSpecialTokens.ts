/**
 * Keeps text that a remote inference server renders into a prompt from spelling its control
 * tokens. llama-server, vLLM and the others render the chat template to a string and tokenize it
 * with special-token parsing on, so a user who types `<|im_end|>` would close their own turn.
 * (The local engine needs none of this: node-llama-cpp tokenizes message text as plain text.)
 *
 * Every spelling of a control token that the common chat templates use gets a U+2060 WORD JOINER
 * after its first character: it reads the same, but no longer matches the token. Deterministic,
 * so the same stored history gives the same bytes turn after turn (the server's prefix cache).
 *
 * Covered: `<|…|>` (ChatML, Llama 3, Phi, GPT-OSS: `<|im_start|>`, `<|eot_id|>`, `<|endoftext|>`…),
 * `<｜…｜>` (DeepSeek), `<bos>`/`<eos>`/`<s>`/`</s>`/`<pad>`/`<unk>`/`<mask>`, Gemma's
 * `<start_of_turn>`/`<end_of_turn>`, reasoning and tool tags (`<think>`, `</tool_call>`…), and
 * Mistral's `[INST]`, `[/INST]`, `[SYSTEM_PROMPT]`, `[TOOL_CALLS]`….
 */

const WORD_JOINER = "\u2060";

const TAG_NAMES = [
  "s",
  "bos",
  "eos",
  "pad",
  "unk",
  "mask",
  "start_of_turn",
  "end_of_turn",
  "start_of_image",
  "end_of_image",
  "think",
  "thinking",
  "tool_call",
  "tool_response",
  "tool_calls",
  "function_call",
  "im_start",
  "im_end",
];
const BRACKET_NAMES = ["INST", "SYSTEM_PROMPT", "TOOL_CALLS", "AVAILABLE_TOOLS", "TOOL_RESULTS", "TOOL_CONTENT", "THINK", "IMG"];

const SPECIAL = new RegExp(
  ["<\\|[^|<>\\s]{1,64}\\|>", "<｜[^｜<>\\s]{1,64}｜>", `</?(?:${TAG_NAMES.join("|")})>`, `\\[/?(?:${BRACKET_NAMES.join("|")})\\]`].join(
    "|",
  ),
  "g",
);

/** `text` with every control-token spelling broken by a WORD JOINER after its first character. */
export function neutralizeSpecialTokens(text: string): string {
  return text.replace(SPECIAL, (token) => `${token[0]}${WORD_JOINER}${token.slice(1)}`);
}
