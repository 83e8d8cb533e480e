/**
 * Counts tokens the way the server will: with its tokenizer endpoint where it has one
 * (llama-server `POST /tokenize {content}` → `{tokens}`, vLLM `POST /tokenize {model, prompt}` →
 * `{count}`), otherwise with a safe estimate (estimateTokens.ts) that the server's own prompt
 * counts push up when they show it was low.
 *
 * Counts are cached (the system prompt is counted on every turn). A tokenizer request that fails
 * falls back to the estimate for that text: counting never fails a reply.
 */
import type { Logger } from "../../../src/logger.ts";
import { estimateTokens } from "./estimateTokens.ts";
import { pick, requestJson, type ServerHttp } from "./serverHttp.ts";

export type TokenizerKind = "llama" | "vllm" | "estimate";

const CACHE_ENTRIES = 512;
/** Longest text whose count is cached (longer ones are rarely counted twice). */
const CACHE_MAX_CHARS = 16_384;
/** The estimate is never scaled by more than this, whatever the server reported. */
const MAX_CALIBRATION = 4;

export class TokenCounter {
  private readonly cache = new Map<string, number>();
  private calibration = 1;
  private warned = false;

  constructor(
    readonly kind: TokenizerKind,
    private readonly http: ServerHttp,
    private readonly model: string,
    private readonly log: Logger,
  ) {}

  /** Tokens of `text` on its own (no template, no BOS). */
  async count(text: string): Promise<number> {
    if (text.length === 0) return 0;
    if (this.kind === "estimate") return this.estimate(text);
    const cached = this.cache.get(text);
    if (cached !== undefined) {
      // Most recently used last: the Map's order is the eviction order.
      this.cache.delete(text);
      this.cache.set(text, cached);
      return cached;
    }
    let n: number | undefined;
    try {
      n = await this.ask(text);
    } catch (err) {
      if (!this.warned) this.log.warn({ err: String(err) }, "the server's tokenizer did not answer; estimating token counts until it does");
      this.warned = true;
    }
    if (n === undefined) return this.estimate(text);
    this.warned = false;
    if (text.length <= CACHE_MAX_CHARS) {
      this.cache.set(text, n);
      if (this.cache.size > CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    }
    return n;
  }

  /** The estimate, scaled by what the server's prompt counts showed. */
  estimate(text: string): number {
    return Math.ceil(estimateTokens(text) * this.calibration);
  }

  /**
   * The server counted `actual` prompt tokens where the estimate said `estimated`: when it was
   * low, scale every later estimate up (never down: one prompt of prose says nothing about the
   * next one full of digits).
   */
  observe(estimated: number, actual: number): void {
    if (this.kind !== "estimate" || estimated <= 0 || actual <= estimated) return;
    const next = Math.min(MAX_CALIBRATION, this.calibration * (actual / estimated));
    if (next > this.calibration) {
      this.log.info({ estimated, actual, factor: Number(next.toFixed(2)) }, "token estimate was low for this server; scaling it up");
      this.calibration = next;
    }
  }

  get calibrationFactor(): number {
    return this.calibration;
  }

  private async ask(text: string): Promise<number | undefined> {
    if (this.kind === "llama") {
      const res = await requestJson(this.http, "/tokenize", { content: text });
      const tokens = pick(res.body, "tokens");
      return res.status === 200 && Array.isArray(tokens) ? tokens.length : undefined;
    }
    const res = await requestJson(this.http, "/tokenize", { model: this.model, prompt: text, add_special_tokens: false });
    const count = pick(res.body, "count");
    return res.status === 200 && typeof count === "number" ? count : undefined;
  }
}
