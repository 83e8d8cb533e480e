/**
 * `npm run chat`: the tutorial's multi-turn terminal chat on the real path (terminal → Redis →
 * worker → streamed reply). `exit` quits, `/reset` clears the conversation.
 *
 *   npm run chat -- [--room NAME] [--external]
 *
 * Only the argument parsing is loaded up front: `--help` answers at once, and the session's
 * modules (Redis, BullMQ, the model) load after it.
 */
import { parseArgs } from "node:util";
import { runMain } from "./runMain.ts";

const USAGE = `usage: npm run chat -- [--room NAME] [--external]
  --room NAME   conversation to continue (default "terminal"); memory is kept in Redis
  --external    use workers started separately (npm run worker) instead of one in this process
                (same as EXTERNAL_WORKERS=true)
In the chat: type a message; "exit" quits; "/reset" starts the conversation over.
With no Redis running at a local REDIS_URL, a private one is started for the chat (when
redis-server is installed). Answers that finished after a Ctrl-C show when the room is reopened.`;

runMain(async () => {
  const { values } = parseArgs({
    options: { room: { type: "string", default: "terminal" }, external: { type: "boolean" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const { runChat } = await import("./wiring/terminalChat.ts");
  return runChat({ room: values.room, external: values.external === true });
});
