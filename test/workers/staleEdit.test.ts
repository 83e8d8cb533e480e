/**
 * A worker that loses its job lock while one of its intermediate edits is in flight (the edit
 * passed the lock check, then waited — for the rate budget, or for Redis to come back) must not
 * leave that stale edit as the last thing shown. The chaos run found it: the job, stalled, was
 * taken again and the decided answer re-delivered and committed, then the first attempt's held
 * edit landed over the final text (partial text, live Stop button on Slack) and that attempt
 * logged "lock lost before the final edit; not committing".
 *
 * Deterministic: the sink holds the first attempt's next intermediate edit until the second
 * attempt (the same job, re-run after its lock went) has committed, then lets it land.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ConversationMemory } from "../../src/memory/ConversationMemory.ts";
import { ConversationInbox } from "../../src/queue/ConversationInbox.ts";
import type { EditOptions, ReplySink, ReplyTarget } from "../../src/types.ts";
import type { ModelRunner } from "../../workers/inference/ModelRunner.ts";
import { Harness, loadTinyRunner, testConfig } from "../helpers/harness.ts";

let h: Harness;
let runner: ModelRunner;

beforeAll(async () => {
  const config = await testConfig({ MAX_NEW_TOKENS: "600", CONTEXT_SIZE: "2048", JOB_LOCK_MS: "2000", LOCAL_STREAM_INTERVAL_MS: "50" });
  runner = await loadTinyRunner(config);
  h = new Harness(config, runner);
});

afterEach(async () => {
  for (const w of h.workers.splice(0)) await w.close(0);
});

afterAll(async () => {
  await h?.close();
  await runner?.close();
});

interface Landed {
  messageId: string;
  text: string;
  final: boolean;
  note?: string;
}

/** Records every edit as it lands; `holdNext()` keeps the next intermediate edit in flight until released. */
class HoldingSink implements ReplySink {
  readonly maxLength = Infinity;
  readonly landed: Landed[] = [];
  private hold: { release: () => void; gate: Promise<void>; taken: boolean } | undefined;
  holding = false;

  holdNext(): () => void {
    let release = () => {};
    const gate = new Promise<void>((r) => (release = r));
    this.hold = { release, gate, taken: false };
    return release;
  }

  async edit(target: ReplyTarget, text: string, opts: EditOptions): Promise<void> {
    const hold = this.hold;
    if (!opts.final && hold && !hold.taken) {
      hold.taken = true;
      this.holding = true;
      await hold.gate;
      this.holding = false;
    }
    const entry: Landed = { messageId: target.messageId, text, final: opts.final === true };
    if (opts.note) entry.note = opts.note;
    this.landed.push(entry);
  }

  async post(after: ReplyTarget): Promise<ReplyTarget> {
    throw new Error(`no follow-up messages expected (after ${after.messageId})`);
  }
}

async function until(cond: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("an edit in flight when the job lock is lost", () => {
  it("lands before the final text is shown again: the reply ends on the committed answer, final, shown once", async () => {
    const sink = new HoldingSink();
    const w = await h.startWorker({ sinks: { local: sink } });
    let lost = 0;
    w.worker.on("lockLost", () => lost++);
    const inbox = new ConversationInbox(h.redis, h.keys);
    const client = h.client("stale");
    const request = await client.submit("a long story, with an edit held in flight");
    const placeholder = request.reply.messageId;

    // The first attempt streams; its next intermediate edit is held (past the lock check).
    await until(() => sink.landed.length >= 1);
    const release = sink.holdNext();
    await until(() => sink.holding);
    // It decides its answer (the lock still held), then waits in finish() for the held edit.
    await until(async () => (await inbox.readReply(request.requestId)).decided !== undefined);
    const decided = (await inbox.readReply(request.requestId)).decided!;

    // Its lock goes (as in a Redis outage): BullMQ finds the job stalled and runs it again; the
    // second attempt re-delivers the decided answer and commits it.
    for (const k of await h.redis.keys(h.keys.jobLock("*"))) await h.redis.del(k);
    await client.waitCommitted(request);
    await until(() => sink.landed.some((e) => e.final));
    expect(sink.holding).toBe(true); // the first attempt's edit is still in flight

    // The held edit lands now, over the final text.
    const before = sink.landed.length;
    release();
    await until(() => sink.landed.length > before && !sink.holding);
    const stale = sink.landed[before]!;
    expect(stale.final).toBe(false);

    // The first attempt finds its lock lost and shows the decided answer again: the last edit is final.
    await until(() => sink.landed.at(-1)!.final, 10_000);
    const last = sink.landed.at(-1)!;
    expect(last).toMatchObject({ messageId: placeholder, text: decided.text, final: true });
    expect(sink.landed.every((e) => e.messageId === placeholder)).toBe(true);
    // Every final edit shows the same committed answer (the message shows it once, never two answers).
    const finals = sink.landed.filter((e) => e.final);
    expect(new Set(finals.map((e) => `${e.text}\u0000${e.note ?? ""}`)).size).toBe(1);
    const turns = await new ConversationMemory(h.redis, h.keys, 3600).turns(client.conversationKey);
    expect(turns.map((t) => t.role)).toEqual(["user", "assistant"]);
    expect(turns[1]!.text).toBe(decided.turns.at(-1)!.text);
    expect(await inbox.replyState(request.requestId)).toBe("done");
  });
});
