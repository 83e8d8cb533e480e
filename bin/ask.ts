/**
 * `npm run ask -- "你是谁?"`: one question, the streamed answer on stdout, exit 0. A refused
 * message (empty, too long in characters or in tokens) exits 2 with the reason on stderr.
 *
 *   npm run ask -- [--room NAME] [--external] "question"
 *
 * Only the argument parsing is loaded up front: `--help` answers at once.
 */
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { runMain } from "./runMain.ts";

const USAGE = `usage: npm run ask -- [--room NAME] [--external] "question"
  --room NAME   continue a named conversation (default: a fresh one)
  --external    use workers started separately (npm run worker); same as EXTERNAL_WORKERS=true
Exit status: 0 answered · 2 the message was refused (empty, too long) · 1 anything else.`;

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
  const [{ loadConfig }, { InputRejectedError }, { openLocalSession }, answers] = await Promise.all([
    import("../src/config.ts"),
    import("../src/errors.ts"),
    import("./wiring/openLocalSession.ts"),
    import("./wiring/terminalAnswers.ts"),
  ]);
  const config = loadConfig();
  const room = values.room ?? `ask-${randomUUID().slice(0, 8)}`;
  const session = await openLocalSession({
    config,
    room,
    external: values.external === true || config.EXTERNAL_WORKERS,
    onStatus: (line) => process.stderr.write(`${line}\n`),
  });
  const stopSignals = answers.closeOnSignals(session, () =>
    process.stderr.write(`\nqwenbot: interrupted; the answer is still being written — see it with: npm run chat -- --room ${room}\n`),
  );
  try {
    const printer = answers.newPrinter();
    // The final update waits until the reply's state is known: a refusal goes to stderr, not stdout.
    const request = await session.client.submit(question);
    const answer = await answers.withStallNotes(printer, session, config.JOB_LOCK_MS, () =>
      session.client.follow(request, (u) => {
        if (!u.final) printer.push(u);
      }),
    );
    if ((await session.client.waitCommitted(request)) === "refused") {
      process.stderr.write(`qwenbot: ${answer.note ?? "the message was refused"}\n`);
      return 2;
    }
    printer.push(answer);
    return 0;
  } catch (err) {
    if (err instanceof InputRejectedError) {
      process.stderr.write(`qwenbot: ${err.userMessage}\n`);
      return 2;
    }
    throw err;
  } finally {
    stopSignals();
    await session.close();
  }
});
