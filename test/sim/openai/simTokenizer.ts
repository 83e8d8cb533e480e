/**
 * The simulator's tokenizer and chat template: deterministic and simple enough for a test to
 * compute by hand, shaped like the real thing (ChatML markers are one token each; words, single
 * digits, whitespace runs and punctuation marks are one token each).
 */

const PIECES = /<\|[a-z_]+\|>|[A-Za-z]+|[0-9]|\s+|[^\sA-Za-z0-9]/gu;

export function simTokenize(text: string): string[] {
  return text.match(PIECES) ?? [];
}

/** Token ids: a stable hash of each piece (only counts matter to the engine). */
export function simTokenIds(text: string): number[] {
  return simTokenize(text).map((p) => {
    let h = 7;
    for (let i = 0; i < p.length; i++) h = (h * 31 + p.charCodeAt(i)) % 150_000;
    return h;
  });
}

export interface SimMessage {
  role: string;
  content: string | null;
}

/** ChatML, as Qwen2-Instruct's template renders it, with the reply's opening. */
export function renderChatML(messages: readonly SimMessage[], addGenerationPrompt = true): string {
  let out = "";
  for (const m of messages) out += `<|im_start|>${m.role}\n${m.content ?? ""}<|im_end|>\n`;
  if (addGenerationPrompt) out += "<|im_start|>assistant\n";
  return out;
}

/** Template tokens around one message (`<|im_start|>`, role, `\n`, `<|im_end|>`, `\n`) and opening the reply. */
export const SIM_TURN_OVERHEAD = 5;
export const SIM_REPLY_PREFIX = 3;
