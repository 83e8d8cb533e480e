/** The variables of the bot's core: Redis, logging, the model and engine, conversations, intake limits, operations. */
import { z } from "zod";
import { bool, DEFAULT_MODEL, httpUrl, int, num, redisUrl } from "./configValues.ts";

/*
 * Every variable the bot reads, in groups. Each variable's `.describe()` is its line in
 * docs/configuration.md, which is generated from these groups (`npm run docs:config`; a test fails
 * when it is stale); `unset` in `.meta()` says what applies when an optional variable is not set.
 * `.env.example` lists the same variables with their defaults (a test checks).
 */
export const core = {
  REDIS_URL: redisUrl
    .default("redis://127.0.0.1:6379")
    .describe(
      "Redis connection URL (`redis://` or `rediss://`; a password goes in the URL: `redis://:secret@host:6379`). Every process of a deployment uses the same Redis.",
    ),
  REDIS_PREFIX: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_-]+$/, "letters, digits, _ and - only")
    .default("qwenbot")
    .describe("Prefix of every Redis key, the BullMQ queue included. Deployments that share one Redis use different prefixes."),
  LOG_LEVEL: z
    .enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"])
    .default("info")
    .describe("`trace`, `debug`, `info`, `warn`, `error`, `fatal` or `silent`."),
  LOG_PRETTY: bool.optional().meta({
    description: "`true`: colored, human-readable lines; `false`: one JSON object per line (pino).",
    unset: "pretty on a terminal (unless `CI=true`), JSON otherwise",
  }),
};

export const model = {
  MODEL: z
    .string()
    .trim()
    .min(1, "must not be empty")
    .default(DEFAULT_MODEL)
    .describe(
      "The GGUF model: a Hugging Face URI (`hf:owner/repo/file.gguf`), an `https://` URL, or a local path. Remote models are downloaded into `MODELS_DIR` on first use, or ahead of time with `npm run model:pull`.",
    ),
  MODELS_DIR: z
    .string()
    .trim()
    .min(1)
    .default("models")
    .describe("Where downloaded models are kept (relative to the working directory; `/app/models`, a volume, in the containers)."),
  HF_ENDPOINT: httpUrl.optional().meta({
    description:
      "Where `hf:` model URIs are downloaded from: a Hugging Face mirror or proxy (`https://hf-mirror.example/`). Before a download, one quick request checks the host answers, so a machine without network fails within seconds instead of retrying for minutes.",
    unset: "`https://huggingface.co/`",
  }),
  SYSTEM_PROMPT: z.string().default("You are a helpful assistant.").describe("The system message every conversation starts with."),
  MAX_NEW_TOKENS: int(1, 32768).default(512).describe("Most tokens in one reply; a reply cut there says so."),
  TEMPERATURE: num(0, 2).default(0.7).describe("Sampling temperature, 0–2 (0: always the most likely token)."),
  TOP_K: int(0, 1000).default(50).describe("Sample among the k most likely tokens (0: no limit)."),
  CONTEXT_SIZE: int(256, 1_048_576).optional().meta({
    description:
      "Tokens one conversation can use at a time (history, new message and reply), at most the model's training context. Older turns that do not fit are left out, and the reply says so.",
    unset: "4096, at most the model's training context",
  }),
  THREADS: int(1, 1024).optional().meta({
    description: "CPU threads for inference (matters on CPU; more threads than physical cores is much slower).",
    unset: "the physical CPU cores",
  }),
  GPU: z
    .enum(["auto", "cuda", "vulkan", "metal", "false"])
    .default("auto")
    .describe(
      "Compute backend: `auto` (CUDA, Vulkan or Metal when available, else CPU), `cuda`, `vulkan`, `metal`, or `false` (CPU only).",
    ),
  WORKER_CONCURRENCY: int(1, 64)
    .default(2)
    .describe(
      "Replies one worker generates at once: sequences of its context, batched together (GPU memory grows with it); with `ENGINE=openai`, the streams it keeps open to the server.",
    ),
  WORKER_DELIVERY_JOBS: int(0, 256)
    .default(2)
    .describe(
      "Replies still delivering their last edits that a worker holds beyond `WORKER_CONCURRENCY`: the model's sequence is free for the next reply as soon as generation ends (0: delivery keeps its sequence).",
    ),
};

export const engine = {
  ENGINE: z
    .enum(["local", "openai"])
    .default("local")
    .describe(
      "`local`: the worker runs `MODEL` itself (node-llama-cpp); `openai`: the worker sends conversations to a server speaking OpenAI's streaming chat completions (llama-server, vLLM, SGLang, Ollama) at `OPENAI_BASE_URL` (`MODEL`, `MODELS_DIR`, `CONTEXT_SIZE`, `THREADS` and `GPU` then do not apply).",
    ),
  OPENAI_BASE_URL: httpUrl.optional().meta({
    description:
      "The server's OpenAI API base URL, `/v1` included: `http://127.0.0.1:8080/v1` (llama-server), `http://127.0.0.1:8000/v1` (vLLM), `http://127.0.0.1:11434/v1` (Ollama).",
    unset: "required when `ENGINE=openai`",
  }),
  OPENAI_API_KEY: z.string().trim().optional().meta({
    description: "Sent as `Authorization: Bearer …` (llama-server `--api-key`, vLLM `--api-key`).",
    unset: "no Authorization header",
  }),
  OPENAI_MODEL: z.string().trim().optional().meta({
    description: "The model name requests carry; it must be one the server's `/v1/models` lists.",
    unset: "the first model the server lists",
  }),
  OPENAI_TIMEOUT_MS: int(1000, 3_600_000)
    .default(120_000)
    .describe(
      "Longest wait for the server's first byte of a reply and between two chunks of it; longer, and the reply is retried like after a worker crash.",
    ),
  OPENAI_CONTEXT_SIZE: int(256, 1_048_576).optional().meta({
    description: "Tokens one conversation may use on the server (history, new message and reply), at most what the server reports.",
    unset: "what the server reports (llama-server `/props`, vLLM `max_model_len`), else 4096",
  }),
};

export const conversations = {
  MEMORY_TTL_SECONDS: int(60)
    .default(7 * 24 * 3600)
    .describe("A conversation is forgotten this long after its last message (default 7 days)."),
  MAX_INPUT_CHARS: int(1, 1_000_000)
    .default(8000)
    .describe("Longest message accepted, in characters; longer ones are refused with an explanation."),
  STREAM_INTERVAL_MS: int(50, 60_000).default(1000).describe("Least time between two edits of one reply message on Discord and Slack."),
  LOCAL_STREAM_INTERVAL_MS: int(10, 60_000).default(100).describe("Least time between two updates of a reply in the terminal."),
  JOB_LOCK_MS: int(1000)
    .default(30000)
    .describe(
      "Lock on a reply being generated; when a worker dies, another one takes the reply over after at most this long plus a tenth of it (stalled replies are looked for every `JOB_LOCK_MS`/10, 0.5–5 s).",
    ),
};

export const settingsAndContext = {
  MEMORY_SCOPE: z
    .enum(["thread", "channel", "user"])
    .default("thread")
    .describe(
      "Who shares a memory where no server, channel or thread setting says otherwise: `thread` (a thread its own, a channel outside threads its own), `channel` (one for the whole channel, its threads included) or `user` (each person their own in a channel).",
    ),
  // At most the stored turns' backstop (MAX_STORED_TURNS in src/queue/ConversationInbox.ts).
  HISTORY_TURNS: int(0, 400)
    .default(400)
    .describe(
      "Most earlier turns (a message or an answer each) a conversation keeps and the model sees, fewer when they do not fit the context; 0: each message stands alone.",
    ),
  MAX_SYSTEM_PROMPT_CHARS: int(1, 100_000)
    .default(4000)
    .describe("Longest persona (system prompt) the settings commands accept, in characters."),
  MAX_ATTACHMENT_BYTES: int(1024, 104_857_600)
    .default(262_144)
    .describe(
      "Most bytes of an attached file that are downloaded; a larger file is read up to here, and the prompt says how much was read.",
    ),
  MAX_ATTACHMENT_CHARS: int(100, 1_000_000)
    .default(12_000)
    .describe(
      "Most characters of one text file that go into the prompt (fewer when the context is short); the prompt says how much was read.",
    ),
  ATTACHMENT_TIMEOUT_MS: int(100, 600_000)
    .default(10_000)
    .describe("A file download that takes longer is given up; the model is told the file could not be read."),
};

export const entryPoints = {
  EXTERNAL_WORKERS: bool
    .default(false)
    .describe(
      "`true`: `npm start` runs only the platform adapters, and workers run as separate processes (`npm run worker`), as in docker compose; `npm run chat` and `npm run ask` then use those workers too (as with `--external`).",
    ),
  LOCAL_REDIS_DIR: z
    .string()
    .trim()
    .min(1)
    .default(".cache/redis")
    .describe(
      "`npm run chat` and `npm run ask` with nothing answering at a local `REDIS_URL` (127.0.0.1, localhost): they start a private `redis-server` there for as long as they run (when one is installed), with its data (append-only file) in this folder, relative to the working directory.",
    ),
};

export const abuse = {
  USER_MESSAGES_PER_MINUTE: int(0, 10_000)
    .default(6)
    .describe("Messages one platform user may send per minute (0: no limit); more are refused politely. The terminal has no such limit."),
  MAX_PENDING_PER_CONVERSATION: int(1, 1000)
    .default(10)
    .describe("Messages that may wait for an answer in one conversation; more are refused."),
};

export const operations = {
  METRICS_PORT: int(0, 65535).optional().meta({
    description: "Port of the operations server: `/healthz`, `/readyz` and `/metrics` (Prometheus). 9464 in docker compose.",
    unset: "off",
  }),
  METRICS_HOST: z
    .string()
    .trim()
    .min(1)
    .default("127.0.0.1")
    .describe("Address the operations server listens on (`0.0.0.0` in containers, so Prometheus and healthchecks reach it)."),
  SHUTDOWN_GRACE_MS: int(0)
    .default(20_000)
    .describe(
      "On SIGTERM, running replies get this long to finish; then they are interrupted (the reply says so) and requeued for another worker.",
    ),
};
