/**
 * A short seeded chaos round on all three platforms, as `npm run chaos` runs it: a private Redis
 * (SIGKILLed once), two workers (SIGKILLed), the local client, and the Discord and Slack adapters
 * as processes against their simulators (SIGKILLed once each), with platform faults. It must pass
 * every invariant, on Redis (checkDelivery) and on each platform (checkSurface).
 *
 * Every platform fault is in play, `slack-post-500-after-commit` included (a chat.postMessage
 * Slack saved but answered 500 once left a second placeholder at "Thinking…": fixed in
 * adapters/slack/postPlaceholderOnce.ts). The seed keeps the
 * worker kills ~3 s away from the Redis kill: a worker SIGKILLed just as Redis comes back can leave
 * a Slack reply with a live Stop button and the committed answer never shown (the worker logs
 * "re-delivered an answer decided before a crash" then "lock lost before the final edit"; seen
 * with seed 11 about one run in three; fixed since: workers/reshowDecided.ts, test/workers/staleEdit.test.ts).
 */
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/runCli.ts";

const ARGS = [
  "--seed",
  "193",
  "--platforms",
  "local,discord,slack",
  "--conversations",
  "2",
  "--platform-conversations",
  "3",
  "--messages",
  "3",
  "--kills",
  "2",
  "--send-s",
  "15",
  "--adapter-kills",
  "1",
  "--platform-faults",
  "5",
  "--redis-down-ms",
  "4000",
];

function runChaos(): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "tools/chaos/chaos.ts", ...ARGS], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (err += d.toString("utf8")));
    child.on("exit", (code) => resolve({ code, out, err }));
  });
}

const count = (text: string, label: string, platform?: string): number => {
  const part = platform ? text.slice(text.indexOf(`  ${platform}:`)) : text;
  const m = new RegExp(`${label.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\s+(\\d+)`).exec(part);
  if (!m) throw new Error(`no "${label}" in the summary:\n${text}`);
  return Number(m[1]);
};

describe("npm run chaos on local, Discord and Slack", () => {
  it("passes a seeded round with worker, adapter and Redis kills and platform faults", { timeout: 900_000 }, async () => {
    const { code, out, err } = await runChaos();
    const why = `${out}\n--- stderr (last 4000) ---\n${err.slice(-4000)}`;
    expect(out, why).toMatch(/result\s+PASS/);
    expect(code, why).toBe(0);
    expect(out).toMatch(/platforms\s+local, discord, slack/);
    for (const platform of ["discord", "slack"]) {
      // Every conversation's three messages were taken and shown as one answer each.
      expect(count(out, "messages taken", platform), why).toBeGreaterThanOrEqual(9);
      expect(count(out, "adapter SIGKILLs", platform), why).toBe(1);
      expect(count(out, "platform faults", platform), why).toBeGreaterThanOrEqual(1);
      for (const label of ["second reply messages", "taken but no reply shown", "left at Thinking…/Waiting", "live Stop buttons"])
        expect(count(out, label, platform), `${platform} ${label}\n${why}`).toBe(0);
    }
    expect(count(out, "lost"), why).toBe(0);
    expect(count(out, "duplicated"), why).toBe(0);
    expect(err).toMatch(/SIGKILL the discord adapter/);
    expect(err).toMatch(/SIGKILL the slack adapter/);
  });
});
