/**
 * What the Discord end-to-end tests share: the Discord simulator with two guilds, a thread and a
 * DM, the tiny model, a real in-process worker writing through the DiscordSink, the real adapter
 * (discord.js against the simulator) and the real Redis, plus the helpers that read what a user
 * would see. `discordTestbed()` registers the setup and teardown hooks of the calling test file.
 */
import { afterAll, beforeAll, expect } from "vitest";
import { createDiscordSink } from "../../adapters/discord/DiscordSink.ts";
import { type RunningDiscordAdapter, startDiscordAdapter } from "../../adapters/discord/startDiscordAdapter.ts";
import type { RunningWorker, StartWorkerOptions } from "../../bin/wiring/startWorker.ts";
import type { Config } from "../../src/config.ts";
import { ConversationMemory } from "../../src/memory/ConversationMemory.ts";
import type { GenerationEvent } from "../../workers/ChatWorker.ts";
import type { ModelRunner } from "../../workers/inference/ModelRunner.ts";
import { Harness, loadTinyRunner, testConfig } from "../helpers/harness.ts";
import { DiscordSimulator, type MessageRecord } from "../sim/discord/DiscordSimulator.ts";

export const BOT = "900000000000000001";
export const GUILD = "200000000000000001";
export const GUILD2 = "200000000000000002";
export const DM = "400000000000000001";
export const ALICE = { id: "500000000000000001", username: "alice" };
export const BOB = { id: "500000000000000002", username: "bob" };
export const OTHER_BOT = { id: "500000000000000009", username: "otherbot", bot: true };
/** One channel per scenario, so memories never mix across tests. */
export const CH = {
  basic: "300000000000000001",
  iso: "300000000000000002",
  cmd: "300000000000000003",
  stop: "300000000000000004",
  stopB: "300000000000000005",
  stopC: "300000000000000006",
  long: "300000000000000007",
  rate: "300000000000000008",
  resume: "300000000000000010",
  regen: "300000000000000011",
  access: "300000000000000012",
  threads: "300000000000000013",
  ignore: "300000000000000014",
  input: "300000000000000015",
  redis: "300000000000000016",
  queue: "300000000000000017",
  bad: "300000000000000018",
  bad2: "300000000000000019",
  metrics: "300000000000000020",
  // issue 12
  places: "300000000000000021",
  placesStop: "300000000000000022",
  gone: "300000000000000023",
  goneWaiting: "300000000000000024",
  nonce: "300000000000000025",
  nonceLong: "300000000000000026",
  askFail: "300000000000000027",
  askLost: "300000000000000028",
  orphan: "300000000000000029",
  denied: "300000000000000030",
  replays: "300000000000000031",
  shared: "300000000000000032",
  regenLong: "300000000000000033",
  blank: "300000000000000034",
  goneLong: "300000000000000035",
  // issues 15, 16
  settings: "300000000000000036",
  settingsOff: "300000000000000037",
  pingHint: "300000000000000038",
  replyCtx: "300000000000000039",
  files: "300000000000000040",
  settingsUser: "300000000000000041",
  settingsMuted: "300000000000000042",
  settingsThread: "300000000000000043",
} as const;
export const THREAD = "300000000000000090";
export const GENERAL2 = "300000000000000099";
export const EDIT_ROUTE = /^\/channels\/\d+\/messages\/\d+$/;
/** The budget of the worker used for long, stoppable and rate-limited replies. */
export const BIG_BUDGET = 1400;

type Author = { id: string; username: string; bot?: boolean };
type AdapterDeps = Partial<Parameters<typeof startDiscordAdapter>[0]>;

/** What the message shows once the worker is done: the answer plus the notes under it. */
export function expectedContent(e: GenerationEvent, budget: number): string {
  const notes: string[] = [];
  if (e.result.stopReason === "abort") notes.push("stopped");
  else if (e.result.stopReason === "maxTokens") notes.push(`reached the ${budget}-token limit`);
  const note = notes.length > 0 ? `\n-# ${notes.join(" · ")}` : "";
  return e.result.text.length === 0 ? note.trim().slice(3) || "…" : `${e.result.text}${note}`;
}

/** The custom ids of a message's buttons. */
export function customIds(m: { components: unknown[] }): string[] {
  return (m.components as Array<{ components: Array<{ custom_id: string }> }>).flatMap((r) => r.components.map((c) => c.custom_id));
}

export function fencesBalanced(text: string): boolean {
  let open = false;
  for (const line of text.split("\n")) if (/^ {0,3}```/.test(line)) open = !open;
  return !open;
}

export class DiscordTestbed {
  sim!: DiscordSimulator;
  runner!: ModelRunner;
  h!: Harness;
  config!: Config;
  memory!: ConversationMemory;
  worker: RunningWorker | undefined;
  adapter: RunningDiscordAdapter | undefined;
  readonly events: GenerationEvent[] = [];

  async start(): Promise<void> {
    const sim = await DiscordSimulator.start({ botUserId: BOT, heartbeatIntervalMs: 500 });
    this.sim = sim;
    sim.addGuild({
      id: GUILD,
      name: "Guild One",
      channels: Object.entries(CH).map(([name, id]) => ({ id, name: name === "iso" ? "general" : name, type: 0 })),
      threads: [{ id: THREAD, name: "a thread", parent_id: CH.iso }],
      members: [{ user: ALICE }, { user: BOB }],
    });
    sim.addGuild({ id: GUILD2, name: "Guild Two", channels: [{ id: GENERAL2, name: "general", type: 0 }], members: [{ user: ALICE }] });
    sim.addDmChannel({ id: DM, user: ALICE });
    this.config = await testConfig({
      DISCORD_TOKEN: "fake-token-for-sim",
      DISCORD_API_URL: sim.apiBase,
      CONTEXT_SIZE: "4096",
      STREAM_INTERVAL_MS: "200",
    });
    this.runner = await loadTinyRunner(this.config);
    this.h = new Harness(this.config, this.runner);
    this.memory = new ConversationMemory(this.h.redis, this.h.keys, this.config.MEMORY_TTL_SECONDS);
    await this.useWorker(this.config);
    await this.useAdapter(this.config);
  }

  async stop(): Promise<void> {
    await this.adapter?.close();
    await this.h?.close();
    await this.runner?.close();
    await this.sim?.stop();
  }

  /** (Re)start the in-process worker with `cfg` (its budget and edit interval); `extra` as for startWorker. */
  useWorker = async (cfg: Config, extra: Partial<StartWorkerOptions> = {}): Promise<void> => {
    for (const w of this.h.workers) await w.close();
    this.h.workers = [];
    const sink = createDiscordSink(cfg, this.h.logger, { redis: this.h.redis, keys: this.h.keys });
    this.worker = await this.h.startWorker({ config: cfg, sinks: { discord: sink }, ...extra });
    this.worker.worker.on("generation", (e) => this.events.push(e));
  };

  /** Stop every worker (messages wait in their inboxes). */
  stopWorkers = async (): Promise<void> => {
    for (const w of this.h.workers) await w.close();
    this.h.workers = [];
  };

  /** (Re)start the adapter with `cfg` (allowlists, threads…). */
  useAdapter = async (cfg: Config, deps: AdapterDeps = {}): Promise<RunningDiscordAdapter> => {
    await this.adapter?.close();
    this.adapter = await startDiscordAdapter({
      config: cfg,
      logger: this.h.logger,
      redis: this.h.redis,
      keys: this.h.keys,
      ingestor: this.h.ingestor,
      memory: this.memory,
      ...deps,
    });
    return this.adapter;
  };

  generated = (requestId: string, timeoutMs = 20_000): Promise<GenerationEvent> =>
    this.sim.waitFor(() => this.events.find((e) => e.request.requestId === requestId), timeoutMs, `the answer to ${requestId}`);

  say = (channelId: string, content: string, author: Author = ALICE, mentionsBot = true) =>
    this.sim.userSays({ channelId, author, content, mentionsBot });

  /** The bot's reply to a user message (its placeholder). */
  placeholderOf = (id: string): Promise<MessageRecord> =>
    this.sim.waitFor(
      () => this.botMessages(this.sim.message(id)!.channelId).find((m) => m.messageReference?.message_id === id),
      5000,
      `the reply to ${id}`,
    );

  botMessages = (channelId: string, opts: { includeDeleted?: boolean } = {}): MessageRecord[] =>
    this.sim.messages(channelId, opts).filter((m) => m.authorId === BOT);

  /** Nobody was pinged by anything the bot wrote, and every create and edit said so. */
  expectNoPings = (channelIds: string[]): void => {
    for (const c of channelIds) {
      for (const m of this.botMessages(c)) {
        expect(m.mentionedUserIds).toEqual([]);
        expect(m.mentionEveryone).toBe(false);
        for (const v of this.sim.history(m.id)) expect(v.allowedMentions).toMatchObject({ parse: [] });
      }
    }
  };
}

/** A testbed started before the calling file's tests and stopped after them. */
export function discordTestbed(): DiscordTestbed {
  const tb = new DiscordTestbed();
  beforeAll(() => tb.start());
  afterAll(() => tb.stop());
  return tb;
}
