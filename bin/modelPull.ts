/**
 * `npm run model:pull`: download the configured MODEL into MODELS_DIR before starting workers
 * (progress bar in a terminal, a line per 10% otherwise). Interrupt it at any time (Ctrl-C): the
 * next run resumes where it stopped.
 *
 * Exit status: 0 done · 2 wrong MODEL (MODEL_URI_INVALID, MODEL_NOT_FOUND, MODEL_INVALID) ·
 * 3 no network (NETWORK_UNAVAILABLE) · 130 interrupted · 1 anything else.
 */
import { loadConfig } from "../src/config.ts";
import { QwenbotError } from "../src/errors.ts";
import { progressLines } from "../workers/inference/downloadProgress.ts";
import { pullModel } from "../workers/inference/pullModel.ts";

const EXIT: Record<string, number> = { MODEL_URI_INVALID: 2, MODEL_NOT_FOUND: 2, MODEL_INVALID: 2, NETWORK_UNAVAILABLE: 3 };

const INTERRUPTED = "qwenbot: model download interrupted; the partial file is kept — run `npm run model:pull` again to resume.\n";

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

async function main(): Promise<number> {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    process.stdout.write("usage: npm run model:pull   (downloads MODEL into MODELS_DIR; see docs/operations.md)\n");
    return 0;
  }
  const config = loadConfig();
  const controller = new AbortController();
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    controller.abort(new Error("interrupted"));
    // Progress is saved on disk as the download goes: if cancelling hangs on a dead connection, just leave.
    setTimeout(() => {
      process.stderr.write(INTERRUPTED);
      process.exit(130);
    }, 3000);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const tty = process.stdout.isTTY === true;
  process.stdout.write(`Pulling ${config.MODEL}\n   into ${config.modelsDir}\n`);
  try {
    const result = await pullModel({
      model: config.MODEL,
      modelsDir: config.modelsDir,
      huggingFaceEndpoint: config.HF_ENDPOINT,
      progress: tty,
      signal: controller.signal,
      onProgress: tty ? undefined : progressLines((line) => process.stdout.write(`${line}\n`)),
    });
    const how = result.alreadyPresent ? "already present" : result.resumed ? "resumed and completed" : "downloaded";
    process.stdout.write(`Model ${how}: ${result.path} (${mib(result.bytes)})\n`);
    return 0;
  } catch (err) {
    if (interrupted) {
      process.stderr.write(INTERRUPTED);
      return 130;
    }
    if (err instanceof QwenbotError) {
      process.stderr.write(`qwenbot: error [${err.code}]: ${err.message}\n`);
      return EXIT[err.code] ?? 1;
    }
    process.stderr.write(`qwenbot: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}

// Exit explicitly: an interrupted download may leave sockets open that would keep the process alive.
main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `qwenbot: ${err instanceof QwenbotError ? `error [${err.code}]` : "unexpected error"}: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exit(1);
  },
);
