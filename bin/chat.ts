/**
 * `npm run chat`: the tutorial's multi-turn terminal chat on the real path (terminal → Redis →
 * worker → streamed reply). `exit` quits, `/reset` clears the conversation.
 *
 *   npm run chat -- [--room NAME] [--external]
 */
import readline from "node:readline";
import { parseArgs } from "node:util";
import { StreamPrinter } from "../adapters/local/printStream.ts";
import { loadConfig } from "../src/config.ts";
import { InputRejectedError } from "../src/errors.ts";
import { runMain } from "./runMain.ts";
import { openLocalSession } from "./wiring/openLocalSession.ts";

const USAGE = `usage: npm run chat -- [--room NAME] [--external]
  --room NAME   conversation to continue (default "terminal"); memory is kept in Redis
  --external    use workers started separately (npm run worker) instead of one in this process
                (same as EXTERNAL_WORKERS=true)
In the chat: type a message; "exit" quits; "/reset" starts the conversation over.`;

runMain(async () => {
  const { values } = parseArgs({
    options: { room: { type: "string", default: "terminal" }, external: { type: "boolean" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const config = loadConfig();
  const session = await openLocalSession({
    config,
    room: values.room,
    external: values.external === true || config.EXTERNAL_WORKERS,
    onStatus: (line) => process.stderr.write(`${line}\n`),
  });
  const { client } = session;
  const earlier = await client.turnCount();
  process.stdout.write(
    earlier > 0
      ? `Continuing conversation "${client.room}" (${earlier} earlier turns). Type /reset to start over, exit to quit.\n`
      : `Conversation "${client.room}". Type exit to quit, /reset to start over.\n`,
  );
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  const prompt = () => process.stdout.write("User: ");
  // The line iterator buffers input, so typed-ahead or piped lines are never lost.
  const lines = rl[Symbol.asyncIterator]();
  try {
    for (;;) {
      prompt();
      const next = await lines.next();
      if (next.done) {
        process.stdout.write("\n");
        break; // stdin ended
      }
      const input = next.value.trim();
      if (input.toLowerCase() === "exit") {
        process.stdout.write("Exiting...\n");
        break;
      }
      if (input === "") continue;
      if (input === "/reset") {
        await client.reset();
        process.stdout.write("(conversation cleared)\n");
        continue;
      }
      if (input.startsWith("/") && !input.startsWith("//")) {
        process.stdout.write(
          `Unknown command ${input.split(/\s/)[0]}. Commands: /reset, exit. (Start with // to send a message that begins with a slash.)\n`,
        );
        continue;
      }
      process.stdout.write("Assistant: ");
      const printer = new StreamPrinter((s) => process.stdout.write(s));
      try {
        await client.ask(input.startsWith("//") ? input.slice(1) : input, (u) => printer.push(u));
      } catch (err) {
        if (err instanceof InputRejectedError) process.stdout.write(`(${err.userMessage})\n`);
        else throw err;
      }
    }
  } finally {
    rl.close();
    await session.close();
  }
  return 0;
});
