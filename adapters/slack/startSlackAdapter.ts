/**
 * The Slack adapter: a Bolt App in Socket Mode (SLACK_APP_TOKEN set) or HTTP mode
 * (SLACK_SIGNING_SECRET, listening on SLACK_PORT at /slack/events), wired to SlackConversations.
 *
 * - `/ask` and `/reset` are acknowledged first thing (Slack wants an ack within 3 s).
 * - Events are acknowledged by Bolt before they are handled; retries and the double delivery of
 *   mentions are deduplicated by SlackConversations' claim in Redis.
 * - HTTP mode: Bolt verifies every request's signature (`v0=HMAC_SHA256(secret, v0:ts:body)`) and
 *   answers 401 to a missing, forged or older-than-5-minutes one, before any listener runs; one
 *   dated more than 5 minutes ahead gets 401 too (`refuseFutureTimestamps`).
 * - SLACK_API_URL points the Web API, and so Socket Mode's `apps.connections.open`, elsewhere.
 * - Several bot tokens (comma-separated SLACK_BOT_TOKEN) serve several workspaces: `authorize`
 *   picks the event's workspace's token; a workspace without one is not answered (`slackAuthorize`).
 * - The AI app split view (assistant threads in the app's DM) goes through Bolt's `Assistant`
 *   middleware (`slackAssistant`): it takes the DM thread messages, which reach the same handler.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { format } from "node:util";
import { App, type Logger as BoltLogger, HTTPReceiver, LogLevel, type Receiver, SocketModeReceiver } from "@slack/bolt";
import { ConfigError } from "../../src/errors.ts";
import type { AdapterDeps, RunningAdapter } from "../../src/intake/AdapterDeps.ts";
import { SlackKeys } from "../../src/keys.ts";
import type { Logger } from "../../src/logger.ts";
import { type IncomingSlackMessage, type Respond, SlackConversations, USAGE } from "./SlackConversations.ts";
import { SlackFeatures } from "./SlackFeatures.ts";
import { SlackMessageChanges } from "./SlackMessageChanges.ts";
import { SlackStopButton } from "./SlackStopButton.ts";
import { slackAssistant } from "./slackAssistant.ts";
import { slackAuthorize } from "./slackAuthorize.ts";
import { registerSlackCommands } from "./slackCommands.ts";
import { slackFilesOf } from "./slackFiles.ts";
import { isHelpText } from "./slackHelp.ts";
import { STOP_ACTION_ID } from "./slackMessages.ts";
import { refuseFutureTimestamps } from "./slackRequestTimestamps.ts";
import {
  botTokens,
  resolveWorkspaces,
  type SlackWorkspace,
  type WebClient,
  type WebClientOptions,
  webClientOptions,
} from "./slackWorkspaces.ts";

export interface StartSlackAdapterOptions {
  /** Default: "socket" when SLACK_APP_TOKEN is set, else "http". */
  mode?: "socket" | "http";
  /** HTTP mode: the port (default SLACK_PORT; 0 picks a free one) and host (default: all interfaces). */
  port?: number;
  host?: string;
  /** Socket Mode: how long to wait for a pong before reconnecting (ms). */
  clientPingTimeoutMs?: number;
  /** Extra WebClient options (tests). */
  clientOptions?: WebClientOptions;
}

export interface SlackAdapter extends RunningAdapter {
  readonly platform: "slack";
  readonly app: App;
  readonly mode: "socket" | "http";
  /** HTTP mode: the Events/Commands/Interactivity request URL, as bound. */
  readonly url?: string;
  /** The workspaces the bot tokens belong to. */
  readonly workspaces: readonly SlackWorkspace[];
}

/** Bolt's logger interface on top of pino (Bolt's chatty info lines go to debug). */
function boltLogger(log: Logger): BoltLogger {
  let level = LogLevel.INFO;
  return {
    debug: (...msg: unknown[]) => log.debug(format(...msg)),
    info: (...msg: unknown[]) => log.debug(format(...msg)),
    warn: (...msg: unknown[]) => log.warn(format(...msg)),
    error: (...msg: unknown[]) => log.error(format(...msg)),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}

type Loose = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined);

/** Message subtypes that are a person writing (everything else — edits, deletes, joins, bots — is ignored). */
const USER_SUBTYPES = new Set(["thread_broadcast", "file_share"]);

export async function startSlackAdapter(deps: AdapterDeps, opts: StartSlackAdapterOptions = {}): Promise<SlackAdapter> {
  const { config } = deps;
  const log = deps.logger.child({ platform: "slack" });
  const tokens = botTokens(config);
  if (tokens.length === 0) throw new ConfigError("SLACK_BOT_TOKEN", "is required for the Slack adapter (xoxb-…)");
  const mode = opts.mode ?? (config.SLACK_APP_TOKEN ? "socket" : "http");
  if (mode === "socket" && !config.SLACK_APP_TOKEN)
    throw new ConfigError("SLACK_APP_TOKEN", "is required for Socket Mode (xapp-…, with connections:write)");
  if (mode === "http" && !config.SLACK_SIGNING_SECRET) {
    throw new ConfigError("SLACK_SIGNING_SECRET", "is required for HTTP mode (or set SLACK_APP_TOKEN to use Socket Mode)");
  }
  const bolt = boltLogger(log);
  // The adapter's own calls (question, placeholder, ephemerals) retry a little, then give up: a
  // refusal the user sees beats a handler hanging for half an hour.
  const clientOptions = webClientOptions(config, {
    retryConfig: { retries: 3, factor: 2, minTimeout: 500 },
    ...opts.clientOptions,
    logger: bolt,
  });
  const workspaces = await resolveWorkspaces(tokens, clientOptions);
  log.info({ workspaces: workspaces.map((w) => w.teamId), mode }, "Slack bot tokens verified");

  let connected = false;
  let receiver: Receiver;
  if (mode === "socket") {
    const socket = new SocketModeReceiver({
      appToken: config.SLACK_APP_TOKEN!,
      logger: bolt,
      installerOptions: { clientOptions },
      ...(opts.clientPingTimeoutMs !== undefined ? { clientPingTimeout: opts.clientPingTimeoutMs } : {}),
    });
    socket.client.on("connected", () => {
      connected = true;
    });
    for (const state of ["disconnected", "reconnecting", "disconnecting"]) {
      socket.client.on(state, () => {
        connected = false;
      });
    }
    receiver = socket;
  } else {
    const http = new HTTPReceiver({ signingSecret: config.SLACK_SIGNING_SECRET!, logger: bolt, processBeforeResponse: false });
    refuseFutureTimestamps(http, log);
    receiver = http;
  }

  const app = new App({
    receiver,
    logger: bolt,
    clientOptions,
    authorize: slackAuthorize(workspaces, log),
  });
  app.error(async (error) => {
    log.error({ err: { message: error.message, code: error.code } }, "Slack listener failed");
  });

  const conversations = new SlackConversations(deps, log, clientOptions);
  // /ask-settings, /ask-help, /imagine.
  const commands = registerSlackCommands(app, deps, conversations.settings, log);

  const onCommand = async (
    args: { command: Loose; ack: (r?: Loose) => Promise<void>; respond: Respond; client: unknown; context: Loose },
    forceReset: boolean,
  ) => {
    const { command, ack, respond } = args;
    const client = args.client as Parameters<SlackConversations["ask"]>[0];
    const text = String(command.text ?? "").trim();
    if (!forceReset && text.length === 0) {
      await ack({ response_type: "ephemeral", text: USAGE });
      return;
    }
    await ack();
    const place = {
      teamId: str(args.context.teamId) ?? str(command.team_id) ?? "",
      channelId: String(command.channel_id ?? ""),
      userId: String(command.user_id ?? ""),
    };
    if (forceReset || /^\/?reset[.!]?$/i.test(text)) {
      await conversations.resetCommand(client, place, respond);
      return;
    }
    if (isHelpText(text)) return void (await commands.help(place, respond));
    const userName = str(command.user_name);
    await conversations.ask(
      client,
      { ...place, triggerId: String(command.trigger_id ?? `${Date.now()}`), ...(userName ? { userName } : {}) },
      text,
      respond,
    );
  };
  app.command("/ask", (args) => onCommand(args as unknown as Parameters<typeof onCommand>[0], false));
  app.command("/reset", (args) => onCommand(args as unknown as Parameters<typeof onCommand>[0], true));

  const changes = new SlackMessageChanges({ redis: deps.redis, keys: new SlackKeys(deps.keys), ingestor: deps.ingestor, log });
  const onMessage = async (event: Loose, body: Loose, context: Loose, client: unknown, mentioned: boolean) => {
    const subtype = str(event.subtype);
    const team = str(context.teamId) ?? str(body.team_id) ?? str(event.team);
    if (team && (await changes.handle(client as WebClient, team, event, str(context.botUserId) ?? ""))) return;
    if (subtype !== undefined && !USER_SUBTYPES.has(subtype)) return;
    if (event.bot_id !== undefined || event.bot_profile !== undefined) return;
    const userId = str(event.user);
    const botUserId = str(context.botUserId);
    if (!userId || !botUserId || userId === botUserId) return;
    const ts = str(event.ts);
    const channelId = str(event.channel);
    const teamId = str(context.teamId) ?? str(body.team_id) ?? str(event.team);
    if (!ts || !channelId || !teamId) return;
    const m: IncomingSlackMessage = { teamId, channelId, userId, ts, text: typeof event.text === "string" ? event.text : "" };
    const threadTs = str(event.thread_ts);
    if (threadTs) m.threadTs = threadTs;
    const channelType = str(event.channel_type);
    if (channelType) m.channelType = channelType;
    const files = slackFilesOf(event);
    if (files.length > 0) [m.files, m.botToken] = [files, str(context.botToken)];
    await conversations.message(client as Parameters<SlackConversations["ask"]>[0], { userId: botUserId }, m, mentioned);
  };
  const slackKeys = new SlackKeys(deps.keys);
  app.assistant(
    slackAssistant({
      redis: deps.redis,
      keys: slackKeys,
      features: new SlackFeatures(deps.redis, slackKeys, log),
      log,
      onMessage: (event, body, context, client) => onMessage(event, body, context, client, false),
    }),
  );
  app.event("app_mention", async ({ event, body, context, client }) => {
    await onMessage(event as unknown as Loose, body as unknown as Loose, context as Loose, client, true);
  });
  app.event("message", async ({ event, body, context, client }) => {
    await onMessage(event as unknown as Loose, body as unknown as Loose, context as Loose, client, false);
  });

  const stopButton = new SlackStopButton({ redis: deps.redis, keys: deps.keys, slackKeys, ingestor: deps.ingestor, log });
  app.action(STOP_ACTION_ID, async ({ ack, action, body, context, respond, client }) => {
    await ack();
    const b = body as unknown as Loose;
    const container = (b.container ?? {}) as Loose;
    const message = (b.message ?? {}) as Loose;
    const channel = (b.channel ?? {}) as Loose;
    const team = (b.team ?? {}) as Loose;
    const user = (b.user ?? {}) as Loose;
    const messageTs = str(container.message_ts) ?? str(message.ts);
    const value = str((action as unknown as Loose).value);
    const clicked = { client, userId: str(user.id) ?? "", respond: respond as Respond | undefined };
    if (await commands.stopImage(value, clicked)) return;
    await stopButton.click(
      client,
      {
        teamId: str(context.teamId) ?? str(team.id) ?? "",
        channelId: str(container.channel_id) ?? str(channel.id) ?? "",
        userId: str(user.id) ?? "",
        ...(messageTs ? { messageTs } : {}),
        ...(value ? { value } : {}),
      },
      respond as Respond | undefined,
    );
  });

  let url: string | undefined;
  let listening = false;
  if (mode === "socket") {
    await app.start();
    connected = true;
  } else {
    const server = (await app.start({ port: opts.port ?? config.SLACK_PORT, ...(opts.host ? { host: opts.host } : {}) })) as Server;
    const addr = server.address() as AddressInfo;
    const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
    url = `http://${host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host}:${addr.port}/slack/events`;
    listening = true;
    log.info({ url }, "Slack HTTP endpoint listening (Events, Commands and Interactivity request URL)");
  }
  if (mode === "socket") log.info("connected to Slack (Socket Mode)");

  let closed = false;
  const adapter: SlackAdapter = {
    platform: "slack",
    app,
    mode,
    workspaces,
    ...(url !== undefined ? { url } : {}),
    ready: () => !closed && (mode === "socket" ? connected : listening),
    async close() {
      if (closed) return;
      closed = true;
      await app.stop().catch((err: unknown) => log.warn({ err }, "error while stopping the Slack app"));
    },
  };
  return adapter;
}
