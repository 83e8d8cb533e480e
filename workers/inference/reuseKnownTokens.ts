/**
 * A follow-up turn's prompt is rendered from text, so the previous reply comes back re-tokenized:
 * the model produced `"Hel" "lo"` and the tokenizer now says `"Hello"`. Same text, different
 * tokens, and a plain token comparison with the sequence would re-evaluate the whole reply and
 * everything after it.
 *
 * `reuseKnownTokens` walks the fresh rendering and the tokens the sequence already holds side by
 * side. Wherever a plain-text run (the tokens between two special tokens) spells the same text on
 * both sides, the known tokens are kept; at the first run whose text really differs, the rest of
 * the fresh rendering follows from the first differing token on. The result spells exactly the
 * fresh prompt's text and starts with as much of `known` as that text allows.
 */
import type { Token } from "node-llama-cpp";

export interface TokenText {
  isSpecialToken(token: Token): boolean;
  detokenize(tokens: readonly Token[]): string;
}

function nextSpecial(tokens: readonly Token[], from: number, text: TokenText): number {
  let i = from;
  while (i < tokens.length && !text.isSpecialToken(tokens[i]!)) i++;
  return i;
}

export function reuseKnownTokens(fresh: readonly Token[], known: readonly Token[], text: TokenText): Token[] {
  const out: Token[] = [];
  let i = 0;
  let j = 0;
  // Where the current plain-text run started on each side (just after the last special token).
  let runF = 0;
  let runK = 0;
  while (i < fresh.length && j < known.length) {
    const f = fresh[i]!;
    const k = known[j]!;
    if (f === k) {
      out.push(f);
      i++;
      j++;
      if (text.isSpecialToken(f)) {
        runF = i;
        runK = j;
      }
      continue;
    }
    if (text.isSpecialToken(f) || text.isSpecialToken(k)) break;
    const endF = nextSpecial(fresh, i, text);
    const endK = nextSpecial(known, j, text);
    // `known` may end inside the run (the reply generated last, not closed yet): its text must
    // then be the whole run's text, as `fresh` closes the run right there.
    if (text.detokenize(fresh.slice(runF, endF)) !== text.detokenize(known.slice(runK, endK))) break;
    for (let x = j; x < endK; x++) out.push(known[x]!);
    i = endF;
    j = endK;
    runF = i;
    runK = j;
  }
  for (let x = i; x < fresh.length; x++) out.push(fresh[x]!);
  return out;
}
