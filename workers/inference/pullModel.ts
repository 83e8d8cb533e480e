/**
 * Download the configured MODEL into MODELS_DIR ahead of time, with node-llama-cpp's downloader
 * (the same lookup the worker does at start, so the worker then finds it without downloading).
 *
 * - Resumable: a partial download is kept as `<file>.ipull` (data plus progress metadata); the
 *   next run asks the server for the missing byte ranges only.
 * - Fails fast and clearly before downloading: a URL that answers 404/401/403 or does not serve a
 *   GGUF file is MODEL_URI_INVALID; a host that cannot be reached (DNS, refused, timeout) is
 *   NETWORK_UNAVAILABLE. (node-llama-cpp's downloader itself retries network errors for minutes,
 *   which suits a flaky connection mid-download but not a wrong address.)
 */
import fs from "node:fs/promises";
import path from "node:path";
import { resolveModelFile } from "node-llama-cpp";
import { ModelError, QwenbotError } from "../../src/errors.ts";
import { resolveModelPath } from "./loadModel.ts";
import { DEFAULT_HF_ENDPOINT, describeStatus, isRemoteModel, ModelPullError, networkCode, probeModelHost } from "./probeModelHost.ts";

export interface PullProgress {
  totalSize: number;
  downloadedSize: number;
}

export interface PullModelOptions {
  /** MODEL: an `hf:` URI, an http(s) URL, or a local path (nothing to download then). */
  model: string;
  /** MODELS_DIR, absolute. */
  modelsDir: string;
  /** node-llama-cpp's progress bar (a terminal). */
  progress?: boolean;
  onProgress?: (p: PullProgress) => void;
  /** Abort the download; the partial file is kept for the next run. */
  signal?: AbortSignal;
  /** How long the reachability probe waits (default 15 s). */
  probeTimeoutMs?: number;
  /** Where `hf:` URIs resolve (default https://huggingface.co/). */
  huggingFaceEndpoint?: string;
}

export interface PullResult {
  path: string;
  bytes: number;
  /** The file was already complete: nothing was downloaded. */
  alreadyPresent: boolean;
  /** A partial download from an earlier run was continued. */
  resumed: boolean;
}

/** Map what node-llama-cpp / ipull throw to our named errors. */
function explain(model: string, err: unknown): QwenbotError {
  if (err instanceof QwenbotError) return err;
  const status = (err as { statusCode?: unknown }).statusCode;
  if (typeof status === "number") return describeStatus(model, status);
  const reason = err instanceof Error ? err.message : String(err);
  if (/invalid hugging face uri|unsupported model uri|invalid url/i.test(reason))
    return new ModelPullError("MODEL_URI_INVALID", `MODEL is not a valid model URI: ${model} (${reason})`, { cause: err });
  if (/\b(404|not found)\b/i.test(reason))
    return new ModelPullError("MODEL_URI_INVALID", `MODEL was not found: ${model} (${reason})`, { cause: err });
  const code = networkCode(err);
  if (code)
    return new ModelPullError("NETWORK_UNAVAILABLE", `the download of ${model} lost the network (${code}); run it again to resume.`, {
      cause: err,
    });
  return new ModelPullError("MODEL_DOWNLOAD_FAILED", `could not download ${model}: ${reason}`, { cause: err });
}

async function listDir(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    const st = await fs.stat(path.join(dir, name)).catch(() => undefined);
    if (st?.isFile()) out.set(name, st.size);
  }
  return out;
}

export async function pullModel(opts: PullModelOptions): Promise<PullResult> {
  const model = opts.model.trim();
  if (!isRemoteModel(model)) {
    // A local file: nothing to download; check it is there and is a GGUF.
    const file = await resolveModelPath({ model, modelsDir: opts.modelsDir, download: false });
    return { path: file, bytes: (await fs.stat(file)).size, alreadyPresent: true, resumed: false };
  }
  try {
    await fs.mkdir(opts.modelsDir, { recursive: true });
  } catch (err) {
    throw new ModelPullError(
      "MODEL_DOWNLOAD_FAILED",
      `cannot create MODELS_DIR ${opts.modelsDir}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  await probeModelHost(model, opts);
  const before = await listDir(opts.modelsDir);
  let file: string;
  try {
    file = await resolveModelFile(model, {
      directory: opts.modelsDir,
      download: "auto",
      cli: opts.progress ?? false,
      onProgress: opts.onProgress,
      endpoints: { huggingFace: opts.huggingFaceEndpoint ?? DEFAULT_HF_ENDPOINT },
      // Keep the partial file when interrupted: the next run resumes it.
      deleteTempFileOnCancel: false,
      signal: opts.signal,
    });
  } catch (err) {
    if (opts.signal?.aborted) throw opts.signal.reason ?? err;
    throw explain(model, err);
  }
  const name = path.basename(file);
  const st = await fs.stat(file);
  // The same magic-bytes check the worker does before loading.
  await resolveModelPath({ model: file, modelsDir: opts.modelsDir, download: false }).catch((err: unknown) => {
    throw err instanceof ModelError ? err : explain(model, err);
  });
  return { path: file, bytes: st.size, alreadyPresent: before.get(name) === st.size, resumed: before.has(`${name}.ipull`) };
}
