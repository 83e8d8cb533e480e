/**
 * Load the configured GGUF once per worker process: resolve it (local path, URL or `hf:` URI,
 * downloaded into the models folder with a progress bar), check it is a GGUF with a chat template
 * node-llama-cpp can use, and create one context with one sequence per concurrent reply.
 */
import fs from "node:fs/promises";
import path from "node:path";
import {
  type BatchItem,
  type ChatWrapper,
  getLlama,
  type Llama,
  type LlamaContext,
  type LlamaContextOptions,
  LlamaLogLevel,
  type LlamaModel,
  type PrioritizedBatchItem,
  resolveModelFile,
} from "node-llama-cpp";
import { ModelError } from "../../src/errors.ts";
import type { Logger } from "../../src/logger.ts";
import { resolveModelChatWrapper } from "./ChatTemplate.ts";

export interface LoadModelOptions {
  /** Local path, URL, or node-llama-cpp URI (`hf:owner/repo/file.gguf`). */
  model: string;
  modelsDir: string;
  gpu: "auto" | "cuda" | "vulkan" | "metal" | "false";
  threads: number;
  /** Tokens each sequence can see. Clamped to what the model was trained on. */
  contextSize?: number;
  sequences: number;
  /** Tokens one decode may carry (default 512). */
  batchSize?: number;
  logger: Logger;
  /** Show node-llama-cpp's download progress bar (a terminal). */
  progress?: boolean;
  /** Allow downloading a URI that is not in the models folder yet (default true). */
  download?: boolean;
}

export interface LoadedModel {
  llama: Llama;
  model: LlamaModel;
  context: LlamaContext;
  modelPath: string;
  loadMs: number;
  /** The model's chat template as node-llama-cpp resolved it (resolving takes a while: done once, here). */
  chatWrapper?: ChatWrapper;
}

const DEFAULT_CONTEXT = 4096;

export interface ContextSettings {
  sequences: number;
  /** Tokens each sequence can see. */
  contextSize: number;
  threads: number;
  /** Tokens one decode may carry (default 512, at least one per sequence). */
  batchSize?: number;
}

/**
 * Which queued tokens go into the next batch: every generating sequence's next token first (in
 * queue order, which the runner keeps ascending by sequence), then prompts first-come,
 * first-served. node-llama-cpp's default ("maximumParallelism") shares the batch equally between
 * waiting prompts, so a burst of N prompts all finish — and show their first token — only when the
 * last one does; first-come, first-served gives the first reply its first token after its own
 * prompt, the second after two, and so on: the same total work, half the median wait.
 */
function decodeFirstThenFifo({ items, size }: { items: readonly BatchItem[]; size: number }): PrioritizedBatchItem[] {
  const out: PrioritizedBatchItem[] = [];
  let left = size;
  for (const item of items) {
    if (left > 0 && item.tokens.length === 1) {
      out.push({ item, processAmount: 1 });
      left--;
    }
  }
  for (const item of items) {
    if (left <= 0) break;
    if (item.tokens.length === 1) continue;
    const amount = Math.min(item.tokens.length, left);
    out.push({ item, processAmount: amount });
    left -= amount;
  }
  return out;
}

/**
 * The context options the worker uses: the benchmark's bare-library baseline builds its context
 * from the same function, so both sides run with identical settings.
 */
export function contextOptions(s: ContextSettings): LlamaContextOptions {
  return {
    sequences: s.sequences,
    contextSize: s.contextSize,
    // Exactly this many threads for every decode: llama.cpp's threads spin while they wait for
    // each other, so more threads than cores costs far more than it brings.
    threads: s.threads,
    // One batch carries every live sequence's next token at once, plus prompt tokens.
    batchSize: Math.max(s.batchSize ?? 512, s.sequences),
    batching: { itemPrioritizationStrategy: decodeFirstThenFifo },
  };
}

function isRemote(model: string): boolean {
  return /^(hf:|huggingface:|https?:\/\/)/i.test(model);
}

/** Resolve `model` to a local file that starts with the GGUF magic, or throw a ModelError naming it. */
export async function resolveModelPath(opts: Pick<LoadModelOptions, "model" | "modelsDir" | "progress" | "download">): Promise<string> {
  let file: string;
  if (isRemote(opts.model)) {
    await fs.mkdir(opts.modelsDir, { recursive: true });
    try {
      file = await resolveModelFile(opts.model, {
        directory: opts.modelsDir,
        cli: opts.progress ?? false,
        download: opts.download === false ? false : "auto",
      });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new ModelError("MODEL_NOT_FOUND", `MODEL ${opts.model} could not be resolved or downloaded into ${opts.modelsDir}: ${reason}`, {
        cause: err,
      });
    }
  } else {
    file = path.resolve(opts.model);
  }
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, "r");
  } catch {
    throw new ModelError(
      "MODEL_NOT_FOUND",
      `MODEL file not found: ${file}. Set MODEL to a GGUF path, a URL or an hf: URI (or run \`npm run model:make\` for a test model).`,
    );
  }
  try {
    const { bytesRead, buffer } = await handle.read(Buffer.alloc(4), 0, 4, 0);
    if (bytesRead < 4 || buffer.toString("latin1") !== "GGUF") {
      throw new ModelError("MODEL_INVALID", `MODEL is not a GGUF file: ${file} (it does not start with the GGUF magic bytes)`);
    }
  } finally {
    await handle.close();
  }
  return file;
}

export async function loadModel(opts: LoadModelOptions): Promise<LoadedModel> {
  const started = performance.now();
  const modelPath = await resolveModelPath(opts);
  const log = opts.logger.child({ component: "model" });
  const llama = await getLlama({
    gpu: opts.gpu === "false" ? false : opts.gpu,
    build: "never",
    progressLogs: false,
    logLevel: LlamaLogLevel.warn,
    logger: (level, message) => {
      const text = message.trim();
      if (!text) return;
      if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) log.error({ llama: text }, "llama.cpp error");
      else log.debug({ llama: text }, "llama.cpp");
    },
  });
  let model: LlamaModel;
  try {
    model = await llama.loadModel({ modelPath });
  } catch (err) {
    await llama.dispose();
    const reason = err instanceof Error ? err.message : String(err);
    throw new ModelError("MODEL_LOAD_FAILED", `could not load MODEL ${modelPath}: ${reason}`, { cause: err });
  }
  let chatWrapper: ChatWrapper;
  try {
    chatWrapper = resolveModelChatWrapper(model);
  } catch (err) {
    await model.dispose();
    await llama.dispose();
    throw err;
  }
  const trained = model.trainContextSize;
  const contextSize = Math.min(opts.contextSize ?? DEFAULT_CONTEXT, trained);
  let context: LlamaContext;
  try {
    context = await model.createContext(
      contextOptions({ sequences: opts.sequences, contextSize, threads: opts.threads, batchSize: opts.batchSize }),
    );
  } catch (err) {
    await model.dispose();
    await llama.dispose();
    const reason = err instanceof Error ? err.message : String(err);
    throw new ModelError(
      "MODEL_LOAD_FAILED",
      `could not create a context of ${contextSize} tokens × ${opts.sequences} sequences for ${modelPath}: ${reason}`,
      {
        cause: err,
      },
    );
  }
  const loadMs = performance.now() - started;
  log.info(
    {
      modelPath,
      gpu: llama.gpu,
      threads: opts.threads,
      contextSize: context.contextSize,
      sequences: opts.sequences,
      chatTemplate: chatWrapper.wrapperName,
      loadMs: Math.round(loadMs),
    },
    "model loaded",
  );
  return { llama, model, context, modelPath, loadMs, chatWrapper };
}
