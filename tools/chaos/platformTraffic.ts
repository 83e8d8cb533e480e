/**
 * A chat platform in `npm run chaos`: its loopback simulator (in this process), its adapter as a
 * real process (`bin/start.ts` with EXTERNAL_WORKERS=true and only this platform's credentials,
 * pointed at the simulator), simulated users (simUsers.ts), and what the platform shows at the
 * end — for the Redis-side checker (checkDelivery.ts: SentRecords, delivered finals) and the
 * platform-side one (checkSurface.ts). DiscordTraffic and SlackTraffic fill in the platform.
 */
import path from "node:path";
import type { Redis } from "ioredis";
import { INTAKE_TEXT } from "../../src/intake/intakeMessages.ts";
import type { Keys } from "../../src/keys.ts";
import type { ChaosTraffic, TrafficOptions } from "./chaosTraffic.ts";
import type { DeliveredFinal, SentRecord } from "./checkDelivery.ts";
import type { BotMessageView, Deletion, SurfaceObservation } from "./checkSurface.ts";
import { type Attempt, runUsers, type UserSide } from "./simUsers.ts";
import { WorkerProcess } from "./WorkerProcess.ts";

/** Loading the adapter takes seconds, much longer on a busy machine. */
const ADAPTER_START_MS = 180_000;
/** How long a simulated user waits for a reply (while the adapter is up) before posting again. */
const REPLY_WAIT_MS = 20_000;

/** The start of every refusal the intake gives (Redis down, too fast, too long…), or a refused placeholder's "⚠️". */
const REFUSALS = ["⚠️", ...Object.values(INTAKE_TEXT).map((t) => (typeof t === "string" ? t : t(1, 1).slice(0, 12)))];

/** Whether a bot message's text is a refusal rather than an answer. */
export function isRefusal(text: string): boolean {
  return REFUSALS.some((r) => text.startsWith(r));
}

export abstract class PlatformTraffic implements ChaosTraffic, UserSide {
  abstract readonly name: string;
  /** The adapter's log line once it is connected. */
  protected abstract readonly readyLine: string;
  protected adapter: WorkerProcess | undefined;
  private restarting: Promise<void> | undefined;
  private down = false;
  private users: Promise<Attempt[]> | undefined;
  protected readonly deletions: Deletion[] = [];
  adapterKills = 0;
  readonly faults: string[] = [];
  /** Seconds from an adapter kill until it answered again (its next placeholder). */
  readonly recoveries: number[] = [];
  private killedAt: number | undefined;

  constructor(protected readonly o: TrafficOptions) {}

  /** Start the simulator; the settings that point the bot (adapter and workers) at it. */
  abstract startSimulator(): Promise<Record<string, string>>;
  protected abstract stopSimulator(): Promise<void>;
  abstract say(conv: number, index: number, attempt: number, text: string): Attempt;
  abstract reply(a: Attempt): "none" | "refused" | "taken";
  /** Every message the bot posted, with the user message it answers. */
  protected abstract botMessages(): BotMessageView[];
  /** The refusals the user was shown for an attempt (besides a refusal message in place). */
  protected abstract refusedInPrivate(a: Attempt, next: Attempt | undefined): boolean;
  /** Writes the bot aimed at deleted replies. */
  protected abstract writesToDeleted(): Array<{ messageId: string; at: number }>;
  /** The answer text as the bot would show it for a stored assistant turn (Markdown → platform text). */
  abstract render(stored: string): string;
  /** A shown final message's text without its note. */
  protected abstract withoutNote(text: string): string;
  /**
   * The platform's faults by name: each injects itself and says what it did, or answers undefined
   * when it cannot strike now (no reply being written to delete).
   */
  abstract readonly faultKinds: Record<string, (random: () => number) => string | undefined>;

  /** Where to keep each adapter process's output (`--logs`). */
  logs: string | undefined;
  /** Faults left out of this run (`--without-faults`). */
  without = new Set<string>();

  adapterDown(): boolean {
    return this.down;
  }

  private adapterEnv(): Record<string, string> {
    return { ...this.o.env, ...this.platformEnv, EXTERNAL_WORKERS: "true" };
  }

  protected platformEnv: Record<string, string> = {};

  /** Start the adapter process (before `start`, which sends). */
  async startAdapter(): Promise<void> {
    this.adapter = await WorkerProcess.start(this.adapterEnv(), ADAPTER_START_MS, "bin/start.ts", this.readyLine);
  }

  /** Start the users; resolves once the first reply is seen (the faults are timed from then). */
  async start(): Promise<void> {
    if (!this.adapter) await this.startAdapter();
    let resolveFirst!: () => void;
    const first = new Promise<void>((r) => (resolveFirst = r));
    const o = this.o;
    this.users = runUsers(
      this,
      { conversations: o.conversations, perConversation: o.perConversation, sendMs: o.sendMs, seed: o.seed, replyWaitMs: REPLY_WAIT_MS },
      resolveFirst,
    );
    await Promise.race([first, this.users]);
  }

  /** SIGKILL the adapter process and start it again (in the background; `settled()` waits for it). */
  async killAdapter(): Promise<void> {
    await this.restarting;
    const a = this.adapter!;
    a.kill("SIGKILL");
    await a.exit();
    if (this.logs) await a.saveOutput(path.join(this.logs, `${this.name}-adapter-${this.adapterKills + 1}.log`));
    this.down = true;
    this.adapterKills++;
    this.killedAt = Date.now();
    this.restarting = (async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          this.adapter = await WorkerProcess.start(this.adapterEnv(), ADAPTER_START_MS, "bin/start.ts", this.readyLine);
          break;
        } catch (err) {
          if (attempt >= 5) throw err;
          await new Promise((r) => setTimeout(r, 2000));
        }
      }
      this.down = false;
    })();
    this.restarting.catch(() => {});
  }

  /** Note when the adapter answered again after a kill (called by a user that saw a reply). */
  protected answeredAt(at: number): void {
    if (this.killedAt !== undefined && !this.down && at > this.killedAt) {
      this.recoveries.push((at - this.killedAt) / 1000);
      this.killedAt = undefined;
    }
  }

  /** One of the platform's faults (`faultKinds`, less `without`), drawn with `random`; what it did. */
  fault(random: () => number): string {
    const kinds = Object.keys(this.faultKinds).filter((k) => !this.without.has(k));
    while (kinds.length > 0) {
      const [kind] = kinds.splice(Math.floor(random() * kinds.length), 1);
      const what = this.faultKinds[kind!]!(random);
      if (what === undefined) continue;
      this.faults.push(kind!);
      return `${kind}: ${what}`;
    }
    return "no fault could strike now";
  }

  /** Record a moderator's deletion of a reply being written (a `*-delete-reply` fault). */
  protected deleted(d: Deletion): string {
    this.deletions.push(d);
    return `a moderator deletes reply ${d.messageId} (to ${d.userMessageId})`;
  }

  async settled(): Promise<void> {
    await this.restarting;
  }

  async finished(): Promise<SentRecord[]> {
    const attempts = await this.users!;
    return this.sentRecords(attempts);
  }

  private attempts: Attempt[] = [];

  /** Attempts the bot took: a reply that is no refusal is shown for it, or a moderator deleted it. */
  private sentRecords(attempts: Attempt[]): SentRecord[] {
    this.attempts = attempts;
    const shown = this.botMessages();
    const deleted = new Set(this.deletions.map((d) => d.userMessageId));
    const out: SentRecord[] = [];
    const byConv = new Map<number, Attempt[]>();
    for (const a of attempts) byConv.set(a.conv, [...(byConv.get(a.conv) ?? []), a]);
    for (const list of byConv.values()) {
      list.forEach((a) => {
        // Taken: a reply that is no refusal is shown for it, or a moderator deleted its reply. (A refusal
        // may come with an answer all the same: Slack delivers a mention twice, and each is taken or refused on its own.)
        const mine = shown.filter((m) => m.userMessageId === a.userMessageId);
        if (!mine.some((m) => !m.refusal && !m.deleted) && !deleted.has(a.userMessageId)) return;
        const earlier = list.filter((b) => b.index === a.index && b.attempt < a.attempt);
        out.push({
          requestId: a.requestId,
          conversationKey: a.conversationKey,
          index: a.index + a.attempt / 100,
          text: a.text,
          messageId: a.userMessageId,
          attempts: a.attempt,
          refusals: earlier.filter((b) => this.refused(b, list[list.indexOf(b) + 1], shown)).length,
          acceptedAt: a.seenAt ?? a.sentAt,
          ...(deleted.has(a.userMessageId) ? { replyDeleted: true } : {}),
        });
      });
    }
    return out;
  }

  /** The user was told no for this attempt (a refusal in place, or in private before the next attempt). */
  private refused(a: Attempt, next: Attempt | undefined, shown: BotMessageView[]): boolean {
    return shown.some((m) => m.userMessageId === a.userMessageId && m.refusal) || this.refusedInPrivate(a, next);
  }

  async delivered(_redis: Redis, _keys: Keys, sent: readonly SentRecord[]): Promise<Record<string, DeliveredFinal[]>> {
    const shown = this.botMessages();
    const out: Record<string, DeliveredFinal[]> = {};
    for (const r of sent) {
      const finals = new Map<string, DeliveredFinal>();
      for (const m of shown) {
        if (m.userMessageId !== r.messageId || m.deleted || m.refusal || m.placeholder || m.live) continue;
        const text = this.withoutNote(m.text);
        finals.set(text, { text });
      }
      out[r.requestId] = [...finals.values()];
    }
    return out;
  }

  /** What the platform shows now, for checkSurface. */
  observe(sent: readonly SentRecord[]): SurfaceObservation {
    return {
      platform: this.name,
      taken: sent.map((r) => r.messageId),
      messages: this.botMessages(),
      deletions: this.deletions,
      writesToDeleted: this.writesToDeleted(),
    };
  }

  /** How many posts the users needed beyond one per message (refusals and silences). */
  retries(): number {
    return this.attempts.filter((a) => a.attempt > 1).length;
  }

  async stop(): Promise<void> {
    await this.restarting?.catch(() => {});
    await this.adapter?.stop();
    if (this.logs) await this.adapter?.saveOutput(path.join(this.logs, `${this.name}-adapter-last.log`));
    await this.stopSimulator();
  }
}
