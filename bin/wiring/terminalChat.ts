/**
 * The `npm run chat` loop (bin/chat.ts parses the arguments and loads this): the tutorial's
 * multi-turn chat on the real path (terminal → Redis → worker → streamed reply). A refused
 * message, or Redis going away, is a line in the chat, never the end of it.
 */
import readline from "node:readline";
import { loadConfig } from "../../src/config.ts";
import { InputRejectedError, RedisUnavailableError } from "../../src/errors.ts";
import { openLocalSession } from "./openLocalSession.ts";
import { closeOnSignals, newPrinter, showEarlierAnswers, withStallNotes } from "./terminalAnswers.ts";

const REDIS_AWAY = "Redis is not answering, so that was not sent — send it again once Redis is back.";

export async function runChat(opts: { room: string; external: boolean }): Promise<number> {
  const config = loadConfig();
  const session = await openLocalSession({
    config,
    room: opts.room,
    external: opts.external || config.EXTERNAL_WORKERS,
    onStatus: (line) => process.stderr.write(`${line}\n`),
  });
  const { client } = session;
  let answering = false;
  const stopSignals = closeOnSignals(session, () => {
    if (answering)
      process.stdout.write(
        `\n(Interrupted. The answer is still being written; it is shown when you open this conversation again: npm run chat -- --room ${client.room})\n`,
      );
    else process.stdout.write("\n");
  });
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  // The line iterator buffers input from now on, so typed-ahead or piped lines are never lost
  // (also while earlier answers are shown).
  const lines = rl[Symbol.asyncIterator]();
  try {
    const earlier = await client.turnCount();
    process.stdout.write(
      earlier > 0
        ? `Continuing conversation "${client.room}" (${earlier} earlier turns). Type /reset to start over, exit to quit.\n`
        : `Conversation "${client.room}". Type exit to quit, /reset to start over.\n`,
    );
    answering = true;
    await showEarlierAnswers(session, config.JOB_LOCK_MS);
    answering = false;
    for (;;) {
      process.stdout.write("User: ");
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
        await client.reset().then(
          () => process.stdout.write("(conversation cleared)\n"),
          () => process.stdout.write("(Redis is not answering, so the conversation was not cleared — try again once it is back.)\n"),
        );
        continue;
      }
      if (input.startsWith("/") && !input.startsWith("//")) {
        process.stdout.write(
          `Unknown command ${input.split(/\s/)[0]}. Commands: /reset, exit. (Start with // to send a message that begins with a slash.)\n`,
        );
        continue;
      }
      const printer = newPrinter();
      try {
        const request = await client.submit(input.startsWith("//") ? input.slice(1) : input);
        answering = true;
        process.stdout.write("Assistant: ");
        await withStallNotes(printer, session, config.JOB_LOCK_MS, () => client.follow(request, (u) => printer.push(u)));
      } catch (err) {
        if (err instanceof InputRejectedError) process.stdout.write(`(${err.userMessage})\n`);
        else if (err instanceof RedisUnavailableError) process.stdout.write(`(${REDIS_AWAY})\n`);
        else throw err;
      } finally {
        answering = false;
      }
    }
  } finally {
    rl.close();
    stopSignals();
    await session.close();
  }
  return 0;
}
