/**
 * A worker process killed mid-stream (SIGKILL): the real Bolt adapter in this process, real worker
 * processes (`bin/worker.ts`) streaming to the Slack simulator, the real Redis. The job is retried
 * by another worker, which ends the dead stream with a note and streams the answer below it, in
 * the same thread: one final answer, one memory entry, the placeholder gone.
 */
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { INTERRUPTED_STREAM_NOTE } from "../../adapters/slack/SlackStreams.ts";
import { renderSlackNote } from "../../adapters/slack/slackMessages.ts";
import { type SlackAdapter, startSlackAdapter } from "../../adapters/slack/startSlackAdapter.ts";
import { ConversationMemory } from "../../src/memory/ConversationMemory.ts";
import { escapeSlackMarkdown } from "../../src/text/escapeMentions.ts";
import { WorkerProcess } from "../../tools/chaos/WorkerProcess.ts";
import type { ModelRunner } from "../../workers/inference/ModelRunner.ts";
import { Harness, testConfig } from "../helpers/harness.ts";
import { SlackSimulator, waitFor } from "../sim/slack/SlackSimulator.ts";

const TOKEN = "xoxb-T1-crashtest";

let sim: SlackSimulator;
let h: Harness;
let adapter: SlackAdapter;
let memory: ConversationMemory;
let env: Record<string, string>;
const procs: WorkerProcess[] = [];

beforeAll(async () => {
  sim = await SlackSimulator.start({ echoBotPosts: true, echoBotEdits: true });
  const settings = {
    SLACK_BOT_TOKEN: TOKEN,
    SLACK_API_URL: sim.apiUrl,
    SLACK_EDITS_PER_MINUTE: "600",
    MAX_NEW_TOKENS: "600",
    STREAM_INTERVAL_MS: "100",
    JOB_LOCK_MS: "2000",
  };
  const config = await testConfig({ ...settings, SLACK_APP_TOKEN: "xapp-1-A0SIMAPP-crashtest" });
  env = {
    ...settings,
    MODEL: config.MODEL,
    REDIS_URL: config.REDIS_URL,
    REDIS_PREFIX: config.REDIS_PREFIX,
    THREADS: "1",
    WORKER_CONCURRENCY: "2",
    CONTEXT_SIZE: "2048",
  };
  // The adapter only: the model runs in the worker processes.
  h = new Harness(config, undefined as unknown as ModelRunner);
  memory = new ConversationMemory(h.redis, h.keys, config.MEMORY_TTL_SECONDS);
  adapter = await startSlackAdapter({ config, logger: h.logger, redis: h.redis, keys: h.keys, ingestor: h.ingestor, memory });
});

afterEach(async () => {
  for (const p of procs.splice(0)) await p.stop();
});

afterAll(async () => {
  await adapter?.close();
  await h?.close();
  await sim?.stop();
});

it("SIGKILL mid-stream: the retry ends the dead stream with a note and streams the one final answer below it", async () => {
  const a = await WorkerProcess.start(env);
  procs.push(a);
  await sim.sendSlashCommand("T1", { command: "/ask", text: "tell me a long story", user_id: "U1", channel_id: "C1" }).waitAck();
  const parent = await waitFor(() => sim.messages("T1", "C1").find((m) => !m.reply));
  const dead = await waitFor(() => {
    const m = sim.thread("T1", "C1", parent.ts).find((x) => x.stream?.state === "streaming");
    return m && m.stream!.appends >= 2 ? m : undefined;
  }, 30_000);
  a.kill("SIGKILL");
  await a.exit();
  expect(sim.message("T1", "C1", dead.ts)!.stream!.state).toBe("streaming");

  procs.push(await WorkerProcess.start(env));
  const conv = `slack:T1:C1:${parent.ts}`;
  const turns = await waitFor(async () => {
    const t = await memory.turns(conv);
    return t.length === 2 ? t : undefined;
  }, 60_000);
  const placeholder = sim.thread("T1", "C1", parent.ts, { includeDeleted: true }).find((m) => m.reply && !m.stream)!;
  await waitFor(() => sim.message("T1", "C1", placeholder.ts)?.deleted);

  const replies = sim.thread("T1", "C1", parent.ts).filter((m) => m.reply);
  expect(replies.map((m) => m.ts)).toEqual([dead.ts, replies[1]!.ts]);
  const [ended, answer] = replies;
  expect(ended!.stream!.state).toBe("stopped");
  expect(ended!.text.endsWith(escapeSlackMarkdown(renderSlackNote(INTERRUPTED_STREAM_NOTE)))).toBe(true);
  expect(answer!.stream!.state).toBe("stopped");
  expect(answer!.text.startsWith(escapeSlackMarkdown(turns[1]!.text.trimStart()))).toBe(true);
  expect(answer!.text).not.toContain(INTERRUPTED_STREAM_NOTE);
  expect(turns.map((t) => t.role)).toEqual(["user", "assistant"]);
});
