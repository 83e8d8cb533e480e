/**
 * The quick check before a model download: one request, no retries, bounded by a timeout. Can
 * the model's host be reached, and does the URL serve a GGUF file? node-llama-cpp's downloader
 * retries network errors for minutes (right for a flaky connection mid-download, wrong for a
 * machine without network, which then sits silent for ten minutes); this fails in seconds with a
 * named error and the way forward — the offline route included. Used by `npm run model:pull` and
 * by the worker before it downloads a model it does not have yet.
 */
import { QwenbotError } from "../../src/errors.ts";

export class ModelPullError extends QwenbotError {}

export interface ProbeOptions {
  /** MODELS_DIR, absolute (named in the advice). */
  modelsDir: string;
  /** How long the probe waits for an answer (default 15 s). */
  probeTimeoutMs?: number;
  /** Where `hf:` URIs resolve (default https://huggingface.co/). */
  huggingFaceEndpoint?: string;
  signal?: AbortSignal;
}

export const DEFAULT_HF_ENDPOINT = "https://huggingface.co/";

/** What to do without network: a local GGUF file, or the project's own test model. */
function offlineAdvice(modelsDir: string): string {
  return (
    `Without network: copy a GGUF file into ${modelsDir} and set MODEL to its path, or try everything with the project's ` +
    "own test model (random weights, gibberish answers): `npm run model:make && MODEL=models/test/qwen2-tiny-f32-s1.gguf npm run chat`."
  );
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

/** Whether MODEL is downloaded (an `hf:` URI or a URL) rather than a local path. */
export function isRemoteModel(model: string): boolean {
  return REMOTE.test(model);
}

/** The network error code behind a failed fetch, if any (undici wraps it in `cause`). */
export function networkCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_CODES.has(code)) return code;
    const name = (e as { name?: unknown }).name;
    if (name === "TimeoutError" || name === "AbortError") return "ETIMEDOUT";
  }
  return undefined;
}

export function describeStatus(url: string, status: number): ModelPullError {
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
export async function probeModelHost(model: string, opts: ProbeOptions): Promise<void> {
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
    url = new URL(opts.huggingFaceEndpoint ?? DEFAULT_HF_ENDPOINT);
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
      `cannot reach ${url.host} to download MODEL ${model} (${code}). Check the network connection, DNS and any proxy or firewall. ${offlineAdvice(opts.modelsDir)}`,
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
