/**
 * A token count for servers that have no tokenizer endpoint (Ollama, SGLang, LM Studio, hosted
 * APIs): an estimate meant to err high, so a history fitted with it still fits the real context.
 *
 * Measured with Qwen2's tokenizer (the project's test model; numbers are characters per token):
 * English prose 4.6, code 3.2, JSON 3.3 — but Qwen2 (like Llama 3 and most current tokenizers)
 * cuts numbers into single digits (1.0), Chinese 1.9 characters = 5.6 UTF-8 bytes a token,
 * Japanese 3.9 bytes, Hindi 2.8 bytes, emoji 3.3 bytes. Neither "characters / 3" nor "bytes / 3"
 * is safe on its own (digits and Hindi fall under both), so each kind of character is priced:
 *
 *   digits            1 token each          (numbers are split digit by digit)
 *   other ASCII       1 token per 3 chars   (English 4.6, code 3.2: the worst common case)
 *   non-ASCII         1 token per 2.5 bytes (Hindi 2.8, emoji 3.3, CJK 3.9–5.6)
 *
 * and the sum is multiplied by 1.3: whitespace runs and punctuation runs (2.3–2.4 characters a
 * token) and phone numbers or dates (digits mixed with separators) still come out high. English
 * prose is then over-counted about twofold, which costs some remembered history, never a refused
 * request. Random base64 or hex (1.0–1.4 characters a token) is the known blind spot; the server's
 * own prompt count (`usage.prompt_tokens`) corrects the estimate for the rest of the process
 * (TokenCounter.observe), and a prompt that still overflows is refused by the server with a clear
 * error (ENGINE_CONTEXT_EXCEEDED). test/workers/engine/openai/estimateTokens.test.ts checks the
 * estimate against the real Qwen2 tokenizer.
 */

export const ESTIMATE_SAFETY_FACTOR = 1.3;
const ASCII_CHARS_PER_TOKEN = 3;
const NON_ASCII_BYTES_PER_TOKEN = 2.5;

/** Estimated tokens of `text` on its own (no template around it). */
export function estimateTokens(text: string): number {
  let digits = 0;
  let ascii = 0;
  let nonAsciiBytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
    else if (c < 0x80) ascii++;
    else if (c < 0x800) nonAsciiBytes += 2;
    // A surrogate pair is one 4-byte character: 2 bytes for each half.
    else if (c >= 0xd800 && c <= 0xdfff) nonAsciiBytes += 2;
    else nonAsciiBytes += 3;
  }
  const raw = digits + ascii / ASCII_CHARS_PER_TOKEN + nonAsciiBytes / NON_ASCII_BYTES_PER_TOKEN;
  return Math.ceil(raw * ESTIMATE_SAFETY_FACTOR);
}
