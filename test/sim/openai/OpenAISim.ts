/**
 * A loopback OpenAI-compatible inference server (tests only): streaming chat completions in the
 * exact Server-Sent Events format llama-server and vLLM send, their model lists, llama-server's
 * `/props`, `/tokenize` and `/apply-template`, vLLM's `/tokenize` — or no tokenizer at all — with
 * faults on demand. It records every request and whether the client hung up mid-stream. See
 * README.md beside it.
 */
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { renderChatML, type SimMessage, simTokenIds, simTokenize } from "./simTokenizer.ts";

/** Which server it imitates: llama-server's endpoints and shapes, vLLM's, or a bare OpenAI-compatible one (no tokenizer, no props). */
export type SimShape = "llama" | "vllm" | "none";

export type SimFault =
  /** Answer with this status instead (429/503 with `retryAfter` seconds, 500, 401…). */
  | { kind: "status"; status: number; retryAfter?: string; message?: string; type?: string }
  /** Destroy the socket after `afterPieces` content pieces. */
  | { kind: "drop"; afterPieces: number }
  /** Send a chunk that is not JSON after `afterPieces` pieces, then stop. */
  | { kind: "malformed"; afterPieces: number }
  /** Send llama-server's mid-stream error event (`data: {"error": {"code": 500, …}}`) and end. */
  | { kind: "errorEvent"; afterPieces: number; message?: string }
  /** End the response cleanly without a finish_reason or `[DONE]`. */
  | { kind: "endEarly"; afterPieces: number }
  /** Stop sending but keep the connection open. */
  | { kind: "stall"; afterPieces: number };

export interface SimRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  body: unknown;
  at: number;
}

/** One chat completion request and what became of its stream. */
export interface SimChat {
  body: Record<string, unknown> & { messages: SimMessage[]; max_tokens?: number; stream?: boolean };
  authorization: string | undefined;
  status: number;
  fault: SimFault | undefined;
  promptTokens: number;
  cachedTokens: number;
  piecesSent: number;
  finishReason: string | undefined;
  /** `[DONE]` was sent and the response ended. */
  completed: boolean;
  /** The client closed the connection before the stream was complete (what a Stop looks like). */
  clientDisconnected: boolean;
  startedAt: number;
  endedAt: number | undefined;
}

export interface OpenAISimOptions {
  shape?: SimShape;
  /** Model ids `/v1/models` lists (default `["sim-model"]`). */
  models?: string[];
  /** Tokens per request: prompt and reply (default 2048; llama-server: per slot). */
  contextSize?: number;
  /** llama-server's `total_slots` (default 2). */
  totalSlots?: number;
  /** The reply's content pieces (one token each); default `Hello`, ` from`, ` the`, ` sim`, `.` */
  reply?: (chat: SimChat) => string[];
  /** Delay before each content piece (slow tokens). */
  pieceDelayMs?: number;
  /** Require `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Listen on this port (default: any free one). */
  port?: number;
}

const DEFAULT_REPLY = ["Hello", " from", " the", " sim", "."];

export class OpenAISim {
  readonly requests: SimRequest[] = [];
  readonly chats: SimChat[] = [];
  shape: SimShape;
  models: string[];
  contextSize: number;
  totalSlots: number;
  reply: (chat: SimChat) => string[];
  pieceDelayMs: number;
  apiKey: string | undefined;
  private readonly faults: Array<{ fault: SimFault; path: RegExp; times: number }> = [];
  private readonly sockets = new Set<Socket>();
  /** Prompts seen (as token ids), for llama-server's prefix-cache figures. */
  private readonly cachedPrompts: number[][] = [];
  private server: http.Server | undefined;
  port = 0;

  private constructor(opts: OpenAISimOptions) {
    this.shape = opts.shape ?? "llama";
    this.models = opts.models ?? ["sim-model"];
    this.contextSize = opts.contextSize ?? 2048;
    this.totalSlots = opts.totalSlots ?? 2;
    this.reply = opts.reply ?? (() => DEFAULT_REPLY);
    this.pieceDelayMs = opts.pieceDelayMs ?? 0;
    this.apiKey = opts.apiKey;
  }

  static async start(opts: OpenAISimOptions = {}): Promise<OpenAISim> {
    const sim = new OpenAISim(opts);
    await sim.listen(opts.port ?? 0);
    return sim;
  }

  /** A port nothing listens on (yet): for "the server is not up" tests. */
  static async freePort(): Promise<number> {
    const s = http.createServer();
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    const { port } = s.address() as AddressInfo;
    await new Promise<void>((r) => s.close(() => r()));
    return port;
  }

  /** Start listening (again, after `stop`) on `port` (0: any). */
  async listen(port = this.port): Promise<void> {
    const server = http.createServer((req, res) => void this.handle(req, res));
    server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", resolve);
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  get baseURL(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  /** Stop listening and cut every open connection (the server "goes away"). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  /** The next `times` requests whose path matches `path` (default: chat completions) get `fault`. */
  failNext(fault: SimFault, opts: { path?: RegExp; times?: number } = {}): void {
    this.faults.push({ fault, path: opts.path ?? /\/chat\/completions$/, times: opts.times ?? 1 });
  }

  async waitFor<T>(probe: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const v = probe();
      if (v) return v;
      if (Date.now() > until) throw new Error("OpenAISim.waitFor: timed out");
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private takeFault(path: string): SimFault | undefined {
    const i = this.faults.findIndex((f) => f.path.test(path));
    if (i < 0) return undefined;
    const f = this.faults[i]!;
    if (--f.times <= 0) this.faults.splice(i, 1);
    return f.fault;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      return this.error(res, 400, "invalid JSON body", "invalid_request_error");
    }
    const path = (req.url ?? "/").split("?")[0]!;
    const authorization = req.headers.authorization;
    this.requests.push({ method: req.method ?? "GET", path, authorization, body, at: Date.now() });
    if (this.apiKey && authorization !== `Bearer ${this.apiKey}` && path !== "/health")
      return this.error(res, 401, "Invalid API Key", "authentication_error");
    const fault = this.takeFault(path);
    if (fault?.kind === "status")
      return this.error(res, fault.status, fault.message ?? `simulated ${fault.status}`, fault.type, fault.retryAfter);
    const route = `${req.method} ${path}`;
    if (route === "GET /v1/models" || route === "GET /models") return this.json(res, 200, this.modelList());
    if (route === "GET /health") return this.json(res, 200, { status: "ok" });
    if (route === "POST /v1/chat/completions" || route === "POST /chat/completions") return this.chat(res, body, authorization, fault);
    if (this.shape === "llama" && route === "GET /props") return this.json(res, 200, this.props());
    if (this.shape === "llama" && route === "POST /apply-template") {
      const messages = (body as { messages?: SimMessage[] })?.messages ?? [];
      return this.json(res, 200, { prompt: renderChatML(messages) });
    }
    if (this.shape !== "none" && route === "POST /tokenize") return this.tokenize(res, body);
    return this.error(res, 404, "File Not Found", "not_found_error");
  }

  private modelList(): unknown {
    const created = Math.floor(Date.now() / 1000);
    if (this.shape === "llama")
      return {
        models: this.models.map((m) => ({ name: m, model: m, type: "model" })),
        object: "list",
        data: this.models.map((id) => ({
          id,
          aliases: [],
          tags: [],
          object: "model",
          created,
          owned_by: "llamacpp",
          meta: { vocab_type: 2, n_vocab: 151936, n_ctx: this.contextSize, n_ctx_train: 32768, n_embd: 64 },
        })),
      };
    if (this.shape === "vllm")
      return {
        object: "list",
        data: this.models.map((id) => ({
          id,
          object: "model",
          created,
          owned_by: "vllm",
          root: id,
          parent: null,
          max_model_len: this.contextSize,
          permission: [],
        })),
      };
    return { object: "list", data: this.models.map((id) => ({ id, object: "model", created, owned_by: "library" })) };
  }

  private props(): unknown {
    return {
      default_generation_settings: { n_ctx: this.contextSize, params: { top_k: 40, temperature: 0.8 } },
      total_slots: this.totalSlots,
      model_alias: this.models[0],
      model_path: `/models/${this.models[0]}.gguf`,
      chat_template: "{% for message in messages %}…ChatML…{% endfor %}",
      build_info: "b0-sim",
      is_sleeping: false,
    };
  }

  private tokenize(res: http.ServerResponse, body: unknown): void {
    const b = (body ?? {}) as {
      content?: string;
      prompt?: string;
      messages?: SimMessage[];
      model?: string;
      add_generation_prompt?: boolean;
    };
    if (this.shape === "llama") {
      this.json(res, 200, { tokens: typeof b.content === "string" ? simTokenIds(b.content) : [] });
      return;
    }
    if (typeof b.model !== "string" || !this.models.includes(b.model)) {
      this.vllmError(res, 404, `The model \`${b.model}\` does not exist.`, "NotFoundError");
      return;
    }
    const text = Array.isArray(b.messages)
      ? renderChatML(b.messages, b.add_generation_prompt ?? true)
      : typeof b.prompt === "string"
        ? b.prompt
        : undefined;
    if (text === undefined) {
      this.vllmError(res, 400, "Field required: prompt", "BadRequestError");
      return;
    }
    const tokens = simTokenIds(text);
    this.json(res, 200, { count: tokens.length, max_model_len: this.contextSize, tokens, token_strs: null });
  }

  private async chat(
    res: http.ServerResponse,
    body: unknown,
    authorization: string | undefined,
    fault: SimFault | undefined,
  ): Promise<void> {
    const b = body as SimChat["body"];
    if (!b || !Array.isArray(b.messages)) return this.error(res, 400, "'messages' is required", "invalid_request_error");
    if (this.shape === "vllm" && !this.models.includes(String(b.model)))
      return this.vllmError(res, 404, `The model \`${String(b.model)}\` does not exist.`, "NotFoundError");
    const prompt = simTokenIds(renderChatML(b.messages));
    const chat: SimChat = {
      body: b,
      authorization,
      status: 200,
      fault,
      promptTokens: prompt.length,
      cachedTokens: this.shape === "llama" && b.cache_prompt !== false ? this.longestCachedPrefix(prompt) : 0,
      piecesSent: 0,
      finishReason: undefined,
      completed: false,
      clientDisconnected: false,
      startedAt: Date.now(),
      endedAt: undefined,
    };
    this.chats.push(chat);
    if (prompt.length >= this.contextSize) {
      chat.status = 400;
      const message = `request (${prompt.length} tokens) exceeds the available context size (${this.contextSize} tokens), try increasing it`;
      if (this.shape === "vllm")
        return this.vllmError(res, 400, `This model's maximum context length is ${this.contextSize} tokens. ${message}`, "BadRequestError");
      return this.error(res, 400, message, "exceed_context_size_error");
    }
    this.cachedPrompts.push(prompt);
    const pieces = this.reply(chat);
    const maxTokens = typeof b.max_tokens === "number" ? b.max_tokens : Number.POSITIVE_INFINITY;
    const includeUsage = (b.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    const id = `chatcmpl-sim${this.chats.length}`;
    const created = Math.floor(Date.now() / 1000);
    const model = String(b.model ?? this.models[0]);
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ choices, created, id, model, system_fingerprint: "b0-sim", object: "chat.completion.chunk", ...extra })}\n\n`;
    let closed = false;
    res.on("close", () => {
      closed = true;
      chat.endedAt = Date.now();
      if (!chat.completed) chat.clientDisconnected = !res.writableFinished;
    });
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    const role = this.shape === "vllm" ? { role: "assistant", content: "" } : { role: "assistant", content: null };
    res.write(chunk([{ index: 0, delta: role, finish_reason: null }]));
    let finish = "stop";
    for (let i = 0; i < pieces.length; i++) {
      if (chat.piecesSent >= maxTokens || prompt.length + chat.piecesSent >= this.contextSize - 1) {
        finish = "length";
        break;
      }
      if (this.pieceDelayMs > 0) await new Promise((r) => setTimeout(r, this.pieceDelayMs));
      if (closed) return;
      if (fault && fault.kind !== "status" && chat.piecesSent === fault.afterPieces) return this.breakStream(res, fault, chunk);
      res.write(chunk([{ index: 0, delta: { content: pieces[i] }, finish_reason: null }]));
      chat.piecesSent++;
    }
    if (fault && fault.kind !== "status" && chat.piecesSent === fault.afterPieces) return this.breakStream(res, fault, chunk);
    if (closed) return;
    chat.finishReason = finish;
    const timings = { cache_n: chat.cachedTokens, prompt_n: prompt.length - chat.cachedTokens, predicted_n: chat.piecesSent };
    const llamaTimings = this.shape === "llama" ? { timings } : {};
    res.write(chunk([{ index: 0, delta: {}, finish_reason: finish }], includeUsage ? {} : llamaTimings));
    if (includeUsage) {
      const usage = {
        completion_tokens: chat.piecesSent,
        prompt_tokens: prompt.length,
        total_tokens: prompt.length + chat.piecesSent,
        prompt_tokens_details: { cached_tokens: chat.cachedTokens },
      };
      res.write(chunk([], { usage, ...llamaTimings }));
    }
    res.write("data: [DONE]\n\n");
    chat.completed = true;
    res.end();
  }

  private breakStream(res: http.ServerResponse, fault: Exclude<SimFault, { kind: "status" }>, chunk: (c: unknown[]) => string): void {
    if (fault.kind === "drop") {
      res.socket?.destroy();
      return;
    }
    if (fault.kind === "stall") return;
    if (fault.kind === "malformed") {
      res.write(`${chunk([]).slice(0, 30)}\n\n`);
      res.end();
      return;
    }
    if (fault.kind === "errorEvent") {
      const error = { code: 500, message: fault.message ?? "simulated failure mid-reply", type: "server_error" };
      res.write(`data: ${JSON.stringify({ error })}\n\n`);
    }
    res.end();
  }

  /** llama-server's cache_n: the longest prefix this prompt shares with one evaluated before. */
  private longestCachedPrefix(prompt: number[]): number {
    let best = 0;
    for (const p of this.cachedPrompts) {
      let n = 0;
      while (n < p.length && n < prompt.length - 1 && p[n] === prompt[n]) n++;
      best = Math.max(best, n);
    }
    return best;
  }

  private json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  }

  /** llama-server's error shape. */
  private error(res: http.ServerResponse, status: number, message: string, type = "server_error", retryAfter?: string): void {
    if (this.shape === "vllm") this.vllmError(res, status, message, type, retryAfter);
    else this.json(res, status, { error: { code: status, message, type } }, retryAfter ? { "retry-after": retryAfter } : {});
  }

  /** vLLM's error shape (since 0.10: OpenAI's, nested under `error`). */
  private vllmError(res: http.ServerResponse, status: number, message: string, type: string, retryAfter?: string): void {
    this.json(res, status, { error: { message, type, param: null, code: status } }, retryAfter ? { "retry-after": retryAfter } : {});
  }
}

export { simTokenize };
