/**
 * What `npm run chat` and `npm run ask` share around one answer: the printer (sanitizing, marking
 * restarts — adapters/local/printStream.ts), notes when nothing arrives for a while (a dead worker
 * being replaced, Redis away), the answers a reopened room still owes, and a signal handler that
 * closes the session in order.
 */
import { StreamPrinter } from "../../adapters/local/printStream.ts";
import { sanitizeForTerminal } from "../../adapters/local/sanitizeForTerminal.ts";
import type { ChatRequest } from "../../src/types.ts";
import type { LocalSession } from "./openLocalSession.ts";

/** Silence before the printer says something (ms). */
const STALL_MS = 10_000;

export function newPrinter(): StreamPrinter {
  return new StreamPrinter((s) => process.stdout.write(s), { style: process.stdout.isTTY === true });
}

/** Run `work` (which feeds `printer`), noting every STALL_MS of silence why the answer may be late. */
export async function withStallNotes<T>(printer: StreamPrinter, session: LocalSession, lockMs: number, work: () => Promise<T>): Promise<T> {
  const takeover = Math.round(lockMs / 1000) + Math.max(1, Math.min(5, Math.round(lockMs / 10_000)));
  const timer = setInterval(() => {
    if (printer.idleMs < STALL_MS) return;
    const secs = Math.round(printer.idleMs / 1000);
    if (!session.redisUp()) printer.stalled("Redis is not answering — the answer continues once it is back (Ctrl-C quits)");
    else if (!printer.started) printer.stalled(`no answer yet after ${secs} s — waiting for a worker to take the message…`);
    else printer.stalled(`no new text for ${secs} s — if its worker stopped, another one takes over within about ${takeover} s…`);
  }, 1000);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/** A message, quoted on one line for a note. */
function quote(text: string, max = 60): string {
  const line = sanitizeForTerminal(text).replace(/\s+/g, " ").trim();
  return `"${line.length > max ? `${line.slice(0, max - 1)}…` : line}"`;
}

/**
 * Show the answers this room still owes: those that finished while the chat was closed (an
 * answer orphaned by Ctrl-C keeps being generated), then those still running, followed live.
 */
export async function showEarlierAnswers(session: LocalSession, lockMs: number): Promise<void> {
  const { client } = session;
  const owed = await client.unseen().catch(() => []);
  for (const { request, state } of owed) {
    if (state === undefined) {
      await client.markSeen(request); // too old: its reply record expired
      continue;
    }
    if (state === "done" || state === "failed" || state === "refused") {
      const answer = await client.finalAnswer(request).catch(() => undefined);
      if (answer) {
        process.stdout.write(`(The answer to ${quote(request.text)} arrived while the chat was closed:)\nAssistant: `);
        newPrinter().push(answer);
      }
      await client.markSeen(request);
      continue;
    }
    process.stdout.write(`(Still answering ${quote(request.text)} from before:)\nAssistant: `);
    await follow(session, request, lockMs);
  }
}

async function follow(session: LocalSession, request: ChatRequest, lockMs: number): Promise<void> {
  const printer = newPrinter();
  await withStallNotes(printer, session, lockMs, () => session.client.follow(request, (u) => printer.push(u)));
}

/**
 * Ctrl-C, SIGTERM, SIGHUP: close the session in order — an in-process worker puts a running reply
 * back in the queue at once (it is shown when the room is opened again), the private Redis stops —
 * and exit. A second signal leaves at once.
 */
export function closeOnSignals(session: LocalSession, onFirst: () => void): () => void {
  let closing = false;
  const handler = (signal: NodeJS.Signals) => {
    if (closing) {
      session.killNow();
      process.exit(130);
    }
    closing = true;
    onFirst();
    void session.close({ graceMs: 0 }).finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const s of signals) process.on(s, handler);
  return () => {
    for (const s of signals) process.off(s, handler);
  };
}
