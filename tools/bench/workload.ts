/**
 * The benchmark's conversations: deterministic made-up histories of a given size in tokens, the
 * same for the bare-library baseline and the bot.
 */
import type { Token } from "node-llama-cpp";
import type { ChatTurn } from "../../src/types.ts";
import { mulberry32 as random } from "../random.ts";

const WORDS = (
  "the a of to and in is it that for on with as was by at this from be have or are an they which you one had " +
  "river mountain engine garden window market letter bridge station forest summer winter morning evening story " +
  "question answer reason number system network memory signal pattern value table light water stone paper " +
  "quickly slowly carefully often never always really almost together already perhaps maybe simply clearly " +
  "build carry follow remember explain describe compare measure open close write read listen travel decide"
).split(" ");

function sentence(rand: () => number, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(WORDS[Math.floor(rand() * WORDS.length)]!);
  const s = out.join(" ");
  return `${s[0]!.toUpperCase()}${s.slice(1)}.`;
}

export interface BenchConversation {
  key: string;
  history: ChatTurn[];
  userText: string;
  /** Tokens of the rendered prompt (system prompt, history, new message, reply opening). */
  promptTokens: Token[];
}

/**
 * A conversation whose rendered prompt is about `targetTokens` long: user/assistant exchanges of
 * made-up sentences, then a new user message.
 */
export function makeConversation(opts: {
  key: string;
  seed: number;
  targetTokens: number;
  systemPrompt: string;
  render: (systemPrompt: string, history: readonly ChatTurn[], userText: string) => Token[];
  countTurnTokens: (text: string) => number;
}): BenchConversation {
  const rand = random(opts.seed);
  const userText = `Question ${opts.seed}: ${sentence(rand, 8)} Please go on.`;
  const history: ChatTurn[] = [];
  let prompt = opts.render(opts.systemPrompt, history, userText);
  const at = Date.UTC(2025, 0, 1);
  while (prompt.length < opts.targetTokens) {
    const left = opts.targetTokens - prompt.length;
    // An exchange of about 60 tokens, smaller at the end to land near the target.
    const words = Math.max(3, Math.min(22, Math.floor(left / 3)));
    const user = sentence(rand, Math.max(3, Math.floor(words / 2)));
    const assistant = `${sentence(rand, words)} ${sentence(rand, Math.max(3, Math.floor(words / 2)))}`;
    const next = [...history, { role: "user" as const, text: user, name: "user", at }, { role: "assistant" as const, text: assistant, at }];
    const nextPrompt = opts.render(opts.systemPrompt, next, userText);
    if (nextPrompt.length > opts.targetTokens + 20 && history.length > 0) break;
    history.splice(0, history.length, ...next);
    prompt = nextPrompt;
  }
  for (const turn of history) turn.tokens = opts.countTurnTokens(turn.text);
  return { key: opts.key, history, userText, promptTokens: prompt };
}
