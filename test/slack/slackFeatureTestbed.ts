/**
 * What the Slack feature tests share (settings, help, thread context, files, /imagine): the Slack
 * simulator, the real adapter (Bolt in Socket Mode) on a Redis prefix of its own, the text lane's
 * ingestor (no text worker: queued requests are read back from Redis), and the image lane
 * (ImageHarness: its intake, image workers writing through the real SlackSink).
 */
import type { Queue } from "bullmq";
import { createSlackSink, type SlackSink } from "../../adapters/slack/SlackSink.ts";
import { type SlackAdapter, startSlackAdapter } from "../../adapters/slack/startSlackAdapter.ts";
import type { Config } from "../../src/config.ts";
import type { ImagineIntakeOptions } from "../../src/intake/ImagineIntake.ts";
import { createChatQueue, Ingestor, ingestOptionsFrom } from "../../src/queue/Ingestor.ts";
import type { ChatRequest } from "../../src/types.ts";
import { ImageHarness, imageTestConfig } from "../helpers/imageHarness.ts";
import { SlackSimulator, waitFor } from "../sim/slack/SlackSimulator.ts";
import type { SimTeamOptions } from "../sim/slack/types.ts";

export const APP_TOKEN = "xapp-1-A0SIMAPP-featuretest";
export const tokenFor = (team: string) => `xoxb-${team}-featuretest`;

export interface SlackBed {
  sim: SlackSimulator;
  config: Config;
  h: ImageHarness;
  adapter: SlackAdapter;
  sink: SlackSink;
  ingestor: Ingestor;
  /** A queued text request, as stored (undefined until it is). */
  request(requestId: string): Promise<ChatRequest | undefined>;
  /** Waits for a queued text request. */
  queued(requestId: string): Promise<ChatRequest>;
  /** The ephemerals a user got in a team, newest last. */
  ephemeralTexts(team: string, user: string): string[];
  /** Sends a slash command and waits for the next ephemeral answer to `user`. */
  command(team: string, command: string, text: string, user: string, channel?: string): Promise<string>;
  close(): Promise<void>;
}

export interface SlackBedOptions {
  env?: Record<string, string>;
  teams?: SimTeamOptions[];
  /** Image intake options (e.g. no engine configured). */
  imagine?: Partial<ImagineIntakeOptions>;
}

export async function startSlackBed(opts: SlackBedOptions = {}): Promise<SlackBed> {
  const teams = opts.teams ?? [{ id: "T1" }];
  const sim = await SlackSimulator.start({ teams });
  const config = imageTestConfig({
    SLACK_BOT_TOKEN: teams.map((t) => tokenFor(t.id)).join(","),
    SLACK_APP_TOKEN: APP_TOKEN,
    SLACK_API_URL: sim.apiUrl,
    SLACK_STREAMING: "false",
    IMAGE_UPDATE_INTERVAL_MS: "250",
    SLACK_IMAGE_PREVIEW_INTERVAL_MS: "0",
    ...opts.env,
  });
  const h = new ImageHarness(config);
  const chatQueue: Queue = createChatQueue(h.redis, h.keys);
  const ingestor = new Ingestor(h.redis, chatQueue, h.keys, ingestOptionsFrom(config, { rateLimit: false }));
  const adapter = await startSlackAdapter({
    config,
    logger: h.logger,
    redis: h.redis,
    keys: h.keys,
    ingestor,
    memory: h.memory,
    imagine: h.intake(opts.imagine),
  });
  const sink = createSlackSink(config, h.logger, h.redis, h.keys, { budgetWindowMs: 1000 });
  const request = async (requestId: string) => {
    const raw = await h.redis.get(h.keys.request(requestId));
    return raw ? (JSON.parse(raw) as ChatRequest) : undefined;
  };
  const ephemeralTexts = (team: string, user: string) =>
    sim
      .ephemerals(team)
      .filter((e) => e.user === user)
      .map((e) => e.text);
  return {
    sim,
    config,
    h,
    adapter,
    sink,
    ingestor,
    request,
    queued: (requestId) =>
      waitFor(async () => ((await request(requestId))?.reply ? request(requestId) : undefined), 10_000, {
        message: `request ${requestId}`,
      }),
    ephemeralTexts,
    async command(team, command, text, user, channel = "C1") {
      const before = ephemeralTexts(team, user).length;
      await sim.sendSlashCommand(team, { command, text, user_id: user, channel_id: channel }).waitAck(5000);
      return waitFor(() => ephemeralTexts(team, user)[before], 10_000, { message: `answer to ${command} ${text}` });
    },
    async close() {
      await adapter.close();
      await h.close();
      await chatQueue.close();
      await sim.stop();
    },
  };
}
