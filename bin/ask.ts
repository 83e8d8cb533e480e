/**
 * `npm run ask -- "你是谁?"`: one question, the streamed answer on stdout, exit 0.
 *
 *   npm run ask -- [--room NAME] [--external] "question"
 */
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { StreamPrinter } from "../adapters/local/printStream.ts";
import { loadConfig } from "../src/config.ts";
import { InputRejectedError } from "../src/errors.ts";
import { runMain } from "./runMain.ts";
import { openLocalSession } from "./wiring/openLocalSession.ts";

const USAGE = `usage: npm run ask -- [--room NAME] [--external] "question"
  --room NAME   continue a named conversation (default: a fresh one)
  --external    use workers started separately (npm run worker); same as EXTERNAL_WORKERS=true`;

runMain(async () => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { room: { type: "string" }, external: { type: "boolean" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const question = positionals.join(" ");
  if (question.trim() === "") {
    process.stderr.write(`qwenbot: nothing to ask.\n${USAGE}\n`);
    return 2;
  }
  const config = loadConfig();
  const session = await openLocalSession({
    config,
    room: values.room ?? `ask-${randomUUID().slice(0, 8)}`,
    external: values.external === true || config.EXTERNAL_WORKERS,
    onStatus: (line) => process.stderr.write(`${line}\n`),
  });
  try {
    const printer = new StreamPrinter((s) => process.stdout.write(s));
    await session.client.ask(question, (u) => printer.push(u));
    return 0;
  } catch (err) {
    if (err instanceof InputRejectedError) {
      process.stderr.write(`qwenbot: ${err.userMessage}\n`);
      return 2;
    }
    throw err;
  } finally {
    await session.close();
  }
});
