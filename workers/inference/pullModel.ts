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

export class ModelPullError extends QwenbotError {}

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

const REMOTE = /^(hf:|hf:\/\/|huggingface:|https?:\/\/)/i;
const HF_HOSTS = new Set(["huggingface.co", "hf.co", "www.huggingface.co"]);
const NETWORK_CODES = new Set([
  "ENOTFOUND",
  "EAI_AGAIN",
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "EPIPE",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_SOCKET",
  "UND_ERR_HEADERS_TIMEOUT",
]);

function isRemoteModel(model: string): boolean {
  return REMOTE.test(model);
}

/** The network error code behind a failed fetch, if any (undici wraps it in `cause`). */
function networkCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_CODES.has(code)) return code;
    const name = (e as { name?: unknown }).name;
    if (name === "TimeoutError" || name === "AbortError") return "ETIMEDOUT";
  }
  return undefined;
}

function describeStatus(url: string, status: number): ModelPullError {
  if (status === 404 || status === 410)
    return new ModelPullError(
      "MODEL_URI_INVALID",
      `MODEL points to nothing: ${url} answered HTTP ${status}. Check the repository and file name in MODEL.`,
    );
  if (status === 401 || status === 403) {
    return new ModelPullError(
      "MODEL_URI_INVALID",
      `access to ${url} was refused (HTTP ${status}): the file is private or gated. Check MODEL, or download it yourself into MODELS_DIR.`,
    );
  }
  return new ModelPullError("MODEL_DOWNLOAD_FAILED", `${url} answered HTTP ${status}; the server may be having trouble. Try again later.`);
}

/** One request, no retries: can we reach the model's host, and does the URL serve a GGUF file? */
async function probe(model: string, opts: PullModelOptions): Promise<void> {
  const timeoutMs = opts.probeTimeoutMs ?? 15_000;
  let url: URL;
  let checkFile = false;
  if (/^https?:\/\//i.test(model)) {
    try {
      url = new URL(model);
    } catch {
      throw new ModelPullError("MODEL_URI_INVALID", `MODEL is not a valid URL: ${model}`);
    }
    // Hugging Face page URLs are rewritten to download URLs by node-llama-cpp: only check the host there.
    checkFile = !HF_HOSTS.has(url.hostname);
    if (!checkFile) url = new URL("/", url);
  } else {
    // hf:<user>/<model>[:<quant>] or hf:<user>/<model>/<file path>[#<branch>]
    if (!/^(hf:\/\/|hf:|huggingface:)[^/\s]+\/[^/\s]+/i.test(model)) {
      throw new ModelPullError(
        "MODEL_URI_INVALID",
        `MODEL is not a valid Hugging Face URI: ${model} (expected hf:<user>/<repo>/<file>.gguf or hf:<user>/<repo>:<quant>)`,
      );
    }
    url = new URL(opts.huggingFaceEndpoint ?? "https://huggingface.co/");
  }
  let res: Response;
  try {
    res = await fetch(url, {
      method: "GET",
      headers: checkFile ? { range: "bytes=0-3", "accept-encoding": "identity" } : {},
      redirect: "follow",
      signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), ...(opts.signal ? [opts.signal] : [])]),
    });
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    const code = networkCode(err) ?? "fetch failed";
    throw new ModelPullError(
      "NETWORK_UNAVAILABLE",
      `cannot reach ${url.host} to download MODEL (${code}). Check the network connection, DNS and any proxy or firewall — or copy the GGUF file into ${opts.modelsDir} and set MODEL to its path.`,
      { cause: err },
    );
  }
  try {
    if (!checkFile) return; // any HTTP answer: the network works; the URI itself is checked by the download
    if (res.status >= 400) throw describeStatus(model, res.status);
    const head = Buffer.from(await readAtMost(res, 4));
    if (head.length < 4 || head.toString("latin1") !== "GGUF") {
      const type = res.headers.get("content-type") ?? "unknown type";
      throw new ModelPullError(
        "MODEL_URI_INVALID",
        `${model} does not serve a GGUF file (${type}; it does not start with the GGUF magic bytes). Check MODEL.`,
      );
    }
  } finally {
    await res.body?.cancel().catch(() => {});
  }
}

async function readAtMost(res: Response, n: number): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array();
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let got = 0;
  while (got < n) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    got += value.length;
  }
  reader.releaseLock();
  return Buffer.concat(parts).subarray(0, n);
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
  await probe(model, opts);
  const before = await listDir(opts.modelsDir);
  let file: string;
  try {
    file = await resolveModelFile(model, {
      directory: opts.modelsDir,
      download: "auto",
      cli: opts.progress ?? false,
      onProgress: opts.onProgress,
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
