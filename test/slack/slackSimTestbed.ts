/**
 * What the Slack simulator tests share: the tokens and signing secret, a simulator and the Bolt
 * apps of each test stopped after it (`slackSimTestbed()` registers that in the calling file), the
 * real Bolt App in Socket Mode pointed at the simulator, a raw WebClient, and how a failed call
 * reads.
 */
import { App, LogLevel, SocketModeReceiver, webApi } from "@slack/bolt";
import { afterEach } from "vitest";
import { SlackSimulator } from "../sim/slack/SlackSimulator.ts";

export const BOT_TOKEN = "xoxb-T1-simtoken";
export const APP_TOKEN = "xapp-1-A0SIMAPP-simtoken";
export const SECRET = "sim-signing-secret";

export interface SlackSimTestbed {
  /** A simulator for this test, stopped after it. */
  startSim(options?: Parameters<typeof SlackSimulator.start>[0]): Promise<SlackSimulator>;
  /** The real Bolt App, in Socket Mode, pointed at the simulator (stopped after the test). */
  socketApp(s: SlackSimulator, options?: { clientPingTimeout?: number }): App;
  /** Stop this app after the test. */
  track(app: App): App;
}

export function slackSimTestbed(): SlackSimTestbed {
  let sim: SlackSimulator | undefined;
  const apps: App[] = [];

  afterEach(async () => {
    for (const app of apps.splice(0)) await app.stop().catch(() => undefined);
    await sim?.stop();
    sim = undefined;
  });

  const track = (app: App): App => {
    apps.push(app);
    return app;
  };

  return {
    track,
    async startSim(options = {}) {
      sim = await SlackSimulator.start(options);
      return sim;
    },
    socketApp(s, options = {}) {
      const clientOptions = { slackApiUrl: s.apiUrl };
      return track(
        options.clientPingTimeout === undefined
          ? new App({ token: BOT_TOKEN, appToken: APP_TOKEN, socketMode: true, clientOptions, logLevel: LogLevel.ERROR })
          : new App({
              token: BOT_TOKEN,
              receiver: new SocketModeReceiver({
                appToken: APP_TOKEN,
                clientPingTimeout: options.clientPingTimeout,
                logLevel: LogLevel.ERROR,
                installerOptions: { clientOptions },
              }),
              clientOptions,
              logLevel: LogLevel.ERROR,
            }),
      );
    },
  };
}

/** A plain WebClient that neither retries nor waits out rate limits. */
export function rawClient(s: SlackSimulator, token = BOT_TOKEN): InstanceType<typeof webApi.WebClient> {
  return new webApi.WebClient(token, {
    slackApiUrl: s.apiUrl,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    logLevel: webApi.LogLevel.ERROR,
  });
}

export async function platformError(promise: Promise<unknown>): Promise<{ code?: string; error?: string; retryAfter?: number }> {
  try {
    await promise;
  } catch (e) {
    const err = e as { code?: string; data?: { error?: string }; retryAfter?: number };
    const out: { code?: string; error?: string; retryAfter?: number } = {};
    if (err.code !== undefined) out.code = err.code;
    if (err.data?.error !== undefined) out.error = err.data.error;
    if (err.retryAfter !== undefined) out.retryAfter = err.retryAfter;
    return out;
  }
  throw new Error("expected the call to fail");
}
