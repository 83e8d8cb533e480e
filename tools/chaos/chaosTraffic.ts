/**
 * Where the chaos run's messages come from and where their replies are seen: one ChaosTraffic
 * per platform. `LocalTraffic` runs chaosClient.ts (the local adapter's ingest path) as its own
 * process and reads what the user saw from the local reply streams.
 *
 * Discord and Slack: DiscordTraffic.ts and SlackTraffic.ts (platformTraffic.ts) start the
 * platform's loopback simulator, its adapter as a process, and simulated users.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import type { Redis } from "ioredis";
import type { Keys } from "../../src/keys.ts";
import type { DeliveredFinal, SentRecord } from "./checkDelivery.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");

export interface TrafficOptions {
  conversations: number;
  perConversation: number;
  /** Spread the sending over about this long. */
  sendMs: number;
  seed: number;
  /** REDIS_URL, REDIS_PREFIX and the rest of the bot's settings for the processes it starts. */
  env: Record<string, string>;
  /** A scratch folder of this run. */
  dir: string;
}

export interface ChaosTraffic {
  readonly name: string;
  /** Start sending; resolves once its first message is accepted (the faults are timed from then). */
  start(): Promise<void>;
  /** Wait until every message is accepted; they, in the order accepted. Throws when the sender failed. */
  finished(): Promise<SentRecord[]>;
  /** Distinct final versions the user was shown, by request id. */
  delivered(redis: Redis, keys: Keys, sent: readonly SentRecord[]): Promise<Record<string, DeliveredFinal[]>>;
  /** Stop whatever is still running. */
  stop(): Promise<void>;
  /** A stored answer as this platform shows it (absent: as stored). */
  render?(stored: string): string;
}

export class LocalTraffic implements ChaosTraffic {
  readonly name = "local";
  private child: ChildProcess | undefined;
  private exit: Promise<number | null> = Promise.resolve(null);
  private readonly outFile: string;

  constructor(private readonly o: TrafficOptions) {
    this.outFile = path.join(o.dir, "sent-local.jsonl");
  }

  async start(): Promise<void> {
    const o = this.o;
    const args = ["--conversations", o.conversations, "--messages", o.perConversation, "--send-ms", o.sendMs, "--seed", o.seed];
    const child = spawn(
      process.execPath,
      ["--import", "tsx", path.join(ROOT, "tools/chaos/chaosClient.ts"), ...args.map(String), "--out", this.outFile],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", LOG_LEVEL: "warn", ...o.env },
        stdio: ["ignore", "inherit", "inherit"],
      },
    );
    this.child = child;
    this.exit = new Promise((resolve) => child.on("exit", resolve));
    // The client takes a few seconds to load; the sending starts with its first accepted message.
    for (;;) {
      const text = await fs.readFile(this.outFile, "utf8").catch(() => "");
      if (text.includes("\n")) return;
      if (child.exitCode !== null) throw new Error(`the chaos client exited with ${child.exitCode} before sending anything`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async finished(): Promise<SentRecord[]> {
    const code = await this.exit;
    if (code !== 0) throw new Error(`the chaos client exited with ${code}`);
    return (await fs.readFile(this.outFile, "utf8"))
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as SentRecord);
  }

  async delivered(redis: Redis, keys: Keys, sent: readonly SentRecord[]): Promise<Record<string, DeliveredFinal[]>> {
    const out: Record<string, DeliveredFinal[]> = {};
    for (const r of sent) {
      // The same final delivered again after a crash is still one answer: keep distinct versions.
      const finals = new Map<string, DeliveredFinal>();
      for (const [, f] of await redis.xrange(keys.replyStream(r.messageId), "-", "+")) {
        const fields: Record<string, string> = {};
        for (let i = 0; i + 1 < f.length; i += 2) fields[f[i]!] = f[i + 1]!;
        if (fields.final !== "1") continue;
        const final: DeliveredFinal = { text: fields.text ?? "" };
        if (fields.note) final.note = fields.note;
        finals.set(JSON.stringify(final), final);
      }
      out[r.requestId] = [...finals.values()];
    }
    return out;
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (c && c.exitCode === null && c.signalCode === null) {
      c.kill("SIGKILL");
      await this.exit;
    }
  }
}
