/**
 * `npm run imagine -- "a lighthouse at dawn"`: one picture through the image queue, progress on
 * stderr, the PNG written to --out (default: images/imagine-<time>-<seed>.<ext>) and its path on
 * stdout. Exit 0: the picture was made; 2: refused (options, no engine configured); 1: it failed
 * or was stopped (Ctrl-C stops it; the last preview is written).
 *
 *   npm run imagine -- [--out FILE] [--size WxH] [--steps N] [--seed N] [--negative TEXT] [--room NAME] [--external] "prompt"
 */
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config.ts";
import { InputRejectedError } from "../src/errors.ts";
import { imageExtension } from "../src/images/imageBytes.ts";
import type { ImagineInput } from "../src/images/imagineOptions.ts";
import type { ReplyUpdate } from "../src/stream/RedisStreamSink.ts";
import { runMain } from "./runMain.ts";
import { openImagineSession } from "./wiring/openImagineSession.ts";

const USAGE = `usage: npm run imagine -- [options] "prompt"
  --out FILE        where to write the picture (default: images/imagine-<time>-<seed>.png)
  --size WxH        one of IMAGE_SIZES (default IMAGE_DEFAULT_SIZE)
  --steps N         denoising steps, 1 to IMAGE_MAX_STEPS (default IMAGE_DEFAULT_STEPS)
  --seed N          0 to 4294967295 (default: random)
  --negative TEXT   what the picture should not show
  --room NAME       remember the picture in a named conversation (as npm run chat -- --room NAME)
  --external        use workers started separately (npm run worker); same as EXTERNAL_WORKERS=true`;

/** Default file: under images/ in the working directory, named by time and seed. */
function defaultOut(seed: number, ext: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return path.resolve("images", `imagine-${stamp}-${seed}.${ext}`);
}

runMain(async () => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      out: { type: "string", short: "o" },
      size: { type: "string" },
      steps: { type: "string" },
      seed: { type: "string" },
      negative: { type: "string" },
      room: { type: "string" },
      external: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const prompt = positionals.join(" ");
  if (prompt.trim() === "") {
    process.stderr.write(`qwenbot: nothing to draw.\n${USAGE}\n`);
    return 2;
  }
  const input: ImagineInput = { prompt, size: values.size, steps: values.steps, seed: values.seed, negativePrompt: values.negative };
  const config = loadConfig();
  const session = await openImagineSession({
    config,
    room: values.room ?? `imagine-${randomUUID().slice(0, 8)}`,
    external: values.external === true || config.EXTERNAL_WORKERS,
    onStatus: (line) => process.stderr.write(`${line}\n`),
  });
  try {
    let request: Awaited<ReturnType<typeof session.client.submit>>;
    try {
      request = await session.client.submit(input);
    } catch (err) {
      if (err instanceof InputRejectedError) {
        process.stderr.write(`qwenbot: ${err.userMessage}\n`);
        return 2;
      }
      throw err;
    }
    const o = request.imagine;
    process.stderr.write(`Imagining "${o.prompt}" — ${o.width}x${o.height}, ${o.steps} steps, seed ${o.seed}\n`);
    const onSigint = () => {
      process.stderr.write("\nStopping…\n");
      void session.client.stop(request);
    };
    process.once("SIGINT", onSigint);
    let last = "";
    let final: ReplyUpdate | undefined;
    for await (const u of session.client.updates(request)) {
      if (u.final) {
        final = u;
        break;
      }
      const line = u.image ? `${u.text} (preview)` : [u.text, u.note].filter(Boolean).join(" — ");
      if (line && line !== last) process.stderr.write(`${line}\n`);
      last = line;
    }
    process.off("SIGINT", onSigint);
    await session.client.settled(request);
    if (!final?.image) {
      process.stderr.write(`qwenbot: ${final?.note ?? final?.text ?? "no picture"}\n`);
      return 1;
    }
    const out = values.out ? path.resolve(values.out) : defaultOut(o.seed, imageExtension(final.image.mime));
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, final.image.bytes);
    process.stderr.write(`${final.text}\n`);
    process.stdout.write(`${out}\n`);
    if (final.stopped) {
      process.stderr.write("qwenbot: stopped before the picture was finished; the last preview was written.\n");
      return 1;
    }
    return 0;
  } finally {
    await session.close();
  }
});
