/**
 * Load the configured GGUF once per worker process: resolve it (local path, URL or `hf:` URI,
 * downloaded into the models folder with a progress bar after a quick reachability probe), check
 * its header (bounded: a corrupt one fails at once) and that it has a chat template node-llama-cpp
 * can use, and create one context with one sequence per concurrent reply.
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
import { checkGgufFile, GgufHeaderError } from "./checkGgufFile.ts";
import { progressLines } from "./downloadProgress.ts";
import { DEFAULT_HF_ENDPOINT, isRemoteModel, probeModelHost } from "./probeModelHost.ts";

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
  /** Where `hf:` URIs resolve (HF_ENDPOINT; default https://huggingface.co/). */
  huggingFaceEndpoint?: string;
  /** How long the reachability probe before a download waits (default 10 s). */
  probeTimeoutMs?: number;
  /** Lines about a download for a reader without the progress bar: what is downloaded, then progress. */
  report?: (line: string) => void;
}

export type ResolveModelOptions = Pick<
  LoadModelOptions,
  "model" | "modelsDir" | "progress" | "download" | "huggingFaceEndpoint" | "probeTimeoutMs" | "report"
>;

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

/** Resolve `model` to a local GGUF file whose header checks out, or throw a ModelError naming it. */
export async function resolveModelPath(opts: ResolveModelOptions): Promise<string> {
  const file = isRemoteModel(opts.model) ? await resolveRemote(opts) : path.resolve(opts.model);
  const stat = await fs.stat(file).catch(() => undefined);
  if (!stat) {
    throw new ModelError(
      "MODEL_NOT_FOUND",
      `MODEL file not found: ${file}. Set MODEL to a GGUF path, a URL or an hf: URI (or run \`npm run model:make\` for a test model).`,
    );
  }
  if (stat.isDirectory()) {
    const ggufs = (await fs.readdir(file).catch(() => [] as string[])).filter((n) => n.endsWith(".gguf"));
    const example = ggufs.length > 0 ? ` — it holds ${ggufs.slice(0, 3).join(", ")}${ggufs.length > 3 ? ", …" : ""}` : "";
    throw new ModelError("MODEL_INVALID", `MODEL is a directory, not a GGUF file: ${file}. Set MODEL to a .gguf file${example}.`);
  }
  try {
    checkGgufFile(file);
  } catch (err) {
    if (!(err instanceof GgufHeaderError)) {
      throw new ModelError("MODEL_INVALID", `MODEL cannot be read: ${file} (${err instanceof Error ? err.message : String(err)})`, {
        cause: err,
      });
    }
    if (/magic bytes/.test(err.message)) throw new ModelError("MODEL_INVALID", `MODEL is not a GGUF file: ${file} (${err.message})`);
    throw new ModelError(
      "MODEL_INVALID",
      `MODEL is not a valid GGUF file: ${file} (${err.message}). It is corrupt or truncated: download it again or point MODEL at another file.`,
    );
  }
  return file;
}

/**
 * A remote MODEL: the file already downloaded into MODELS_DIR (found without any network), or —
 * after a quick probe that fails in seconds without network — downloaded now, with a progress
 * bar in a terminal and a line per 10 % (at least every 15 s) otherwise.
 */
async function resolveRemote(opts: ResolveModelOptions): Promise<string> {
  const endpoints = { huggingFace: opts.huggingFaceEndpoint ?? DEFAULT_HF_ENDPOINT };
  const present = await resolveModelFile(opts.model, { directory: opts.modelsDir, cli: false, download: false, endpoints }).catch(
    () => undefined,
  );
  if (present) return present;
  if (opts.download === false) {
    throw new ModelError("MODEL_NOT_FOUND", `MODEL ${opts.model} is not in ${opts.modelsDir} yet and downloading is off.`);
  }
  try {
    await fs.mkdir(opts.modelsDir, { recursive: true });
  } catch (err) {
    throw new ModelError(
      "MODEL_NOT_FOUND",
      `cannot create MODELS_DIR ${opts.modelsDir}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  await probeModelHost(opts.model, {
    modelsDir: opts.modelsDir,
    huggingFaceEndpoint: endpoints.huggingFace,
    probeTimeoutMs: opts.probeTimeoutMs ?? 10_000,
  });
  opts.report?.(`Downloading ${opts.model} into ${opts.modelsDir} (first use; \`npm run model:pull\` does this ahead of time) …`);
  try {
    return await resolveModelFile(opts.model, {
      directory: opts.modelsDir,
      cli: opts.progress ?? false,
      download: "auto",
      endpoints,
      deleteTempFileOnCancel: false,
      onProgress: opts.progress || !opts.report ? undefined : progressLines(opts.report),
    });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ModelError("MODEL_NOT_FOUND", `MODEL ${opts.model} could not be downloaded into ${opts.modelsDir}: ${reason}`, {
      cause: err,
    });
  }
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
