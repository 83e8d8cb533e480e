/**
 * Slack in `npm run chaos`: the Slack simulator (test/sim/slack) with one workspace and one channel
 * and user per conversation, the adapter process on it (Bolt in Socket Mode over the simulator),
 * users who mention the bot — the first message of a conversation in the channel, the rest in the
 * thread the bot answered in — and Slack's faults: a placeholder post saved and then answered 500,
 * 429s and 5xx on edits, a Socket Mode disconnect, an event delivered again (Slack's retry), and a
 * moderator deleting a reply being written. Replies are edited with chat.update (SLACK_STREAMING
 * off; the simulator's native streams are not in the chaos run yet).
 */
import { slackReplyText } from "../../adapters/slack/slackMessages.ts";
import { type SimEnvelope, SlackSimulator } from "../../test/sim/slack/SlackSimulator.ts";
import type { BotMessageView } from "./checkSurface.ts";
import { isRefusal, PlatformTraffic } from "./platformTraffic.ts";
import type { Attempt, ReplySeen } from "./simUsers.ts";

const TEAM = "T1";
const channelOf = (conv: number) => `C0CHAOS${conv}`;
const userOf = (conv: number) => `U0CHAOS${conv}`;
const NOTE = /\n\n_\([^\n]*\)_$/;

export class SlackTraffic extends PlatformTraffic {
  readonly name = "slack";
  protected readonly readyLine = "connected to Slack (Socket Mode)";
  private sim: SlackSimulator | undefined;
  /** Per conversation: the thread of its first taken message. */
  private readonly threads = new Map<number, string>();
  /** Ephemeral messages in the channel when each attempt was posted (by user message ts). */
  private readonly ephemeralsBefore = new Map<string, number>();
  private readonly envelopes: SimEnvelope[] = [];
  private botUser = "";

  async startSimulator(): Promise<Record<string, string>> {
    const sim = await SlackSimulator.start({ teams: [{ id: TEAM }], echoBotPosts: true, echoBotEdits: true });
    this.sim = sim;
    for (let c = 0; c < this.o.conversations; c++) {
      sim.addChannel(TEAM, { id: channelOf(c), name: `chaos-${c}` });
      sim.addUser(TEAM, { id: userOf(c), name: `chaos${c}` });
    }
    this.botUser = sim.botUserIdFor(TEAM);
    this.platformEnv = {
      SLACK_BOT_TOKEN: "xoxb-T1-chaos",
      SLACK_APP_TOKEN: "xapp-1-A0SIMAPP-chaos",
      SLACK_API_URL: sim.apiUrl,
      SLACK_STREAMING: "false",
    };
    return this.platformEnv;
  }

  protected async stopSimulator(): Promise<void> {
    await this.sim?.stop();
  }

  private ephemeralCount(conv: number): number {
    return this.sim!.ephemerals(TEAM, channelOf(conv)).filter((e) => e.user === userOf(conv)).length;
  }

  say(conv: number, index: number, attempt: number, text: string): Attempt {
    const threadTs = index === 0 ? undefined : this.threads.get(conv);
    const before = this.ephemeralCount(conv);
    const r = this.sim!.userMentions(TEAM, { channel: channelOf(conv), user: userOf(conv), text, ...(threadTs ? { threadTs } : {}) });
    this.envelopes.push(r.event);
    this.ephemeralsBefore.set(r.ts, before);
    return {
      conv,
      index,
      attempt,
      text,
      userMessageId: r.ts,
      conversationKey: `slack:${TEAM}:${channelOf(conv)}:${threadTs ?? r.ts}`,
      requestId: `slack-${TEAM}-${channelOf(conv)}-${r.ts}`,
      sentAt: Date.now(),
    };
  }

  reply(a: Attempt): ReplySeen {
    const thread = a.conversationKey.split(":").at(-1)!;
    const tag = `-${a.userMessageId}"`;
    const mine = this.sim!.thread(TEAM, channelOf(a.conv), thread).filter(
      (m) => m.user === this.botUser && !m.deleted && JSON.stringify(m.postParams.blocks ?? []).includes(tag),
    );
    if (mine.length === 0) return this.ephemeralCount(a.conv) > this.ephemeralsBefore.get(a.userMessageId)! ? "refused" : "none";
    if (a.index === 0 && !this.threads.has(a.conv)) this.threads.set(a.conv, thread);
    this.answeredAt(Date.now());
    return "taken";
  }

  protected refusedInPrivate(a: Attempt, next: Attempt | undefined): boolean {
    const until = next ? this.ephemeralsBefore.get(next.userMessageId)! : this.ephemeralCount(a.conv);
    return until > this.ephemeralsBefore.get(a.userMessageId)!;
  }

  /** Every bot message in the conversations' channels, with the user message it answers. */
  protected botMessages(): BotMessageView[] {
    const sim = this.sim!;
    const out: BotMessageView[] = [];
    for (let c = 0; c < this.o.conversations; c++) {
      const all = sim.messages(TEAM, channelOf(c), { includeDeleted: true });
      const users = all.filter((m) => m.user === userOf(c));
      for (const m of all) {
        if (m.user !== this.botUser) continue;
        // The placeholder was posted with its Stop button, whose value is the request id (…-<user ts>);
        // else (a message posted without one) the latest user message before it in its thread.
        const posted = /"value":"slack-[^"]*-(\d+\.\d+)"/.exec(JSON.stringify(m.postParams.blocks ?? []))?.[1];
        const thread = m.thread_ts ?? m.ts;
        const asked = posted ?? users.filter((u) => (u.thread_ts ?? u.ts) === thread && Number(u.ts) < Number(m.ts)).at(-1)?.ts;
        const blocks = JSON.stringify(m.blocks ?? []);
        out.push({
          messageId: m.ts,
          userMessageId: asked,
          text: m.text,
          placeholder: m.text.startsWith("⏳"),
          live: blocks.includes('"action_id":"qwenbot_stop"'),
          refusal: isRefusal(m.text),
          deleted: m.deleted,
          postedAt: Number(m.ts) * 1000,
        });
      }
    }
    return out;
  }

  protected writesToDeleted() {
    const ids = new Set(this.deletions.map((d) => d.messageId));
    return this.sim!.calls()
      .filter(
        (c) => ["chat.update", "chat.delete", "chat.appendStream", "chat.stopStream"].includes(c.method) && ids.has(String(c.params.ts)),
      )
      .map((c) => ({ messageId: String(c.params.ts), at: c.time }));
  }

  render(stored: string): string {
    return slackReplyText(stored);
  }

  protected withoutNote(text: string): string {
    return text.replace(NOTE, "").trimEnd();
  }

  readonly faultKinds: Record<string, (random: () => number) => string | undefined> = {
    "slack-post-500-after-commit": () => {
      this.sim!.failNext("chat.postMessage", { status: 500, afterCommit: true });
      return "the next chat.postMessage is saved, then answered 500";
    },
    "slack-update-429": () => {
      this.sim!.failNext("chat.update", { status: 429, retryAfterSec: 1 }, 2);
      return "the next two chat.update answered 429 (retry after 1 s)";
    },
    "slack-update-5xx": () => {
      this.sim!.failNext("chat.update", { status: 503 }, 2);
      return "the next two chat.update answered 503";
    },
    "slack-socket-disconnect": () => {
      this.sim!.sendDisconnect("refresh_requested");
      return "Socket Mode disconnect (refresh_requested)";
    },
    "slack-event-redelivery": (random) => {
      const recent = this.envelopes.slice(-5);
      const e = recent[Math.floor(random() * recent.length)];
      if (!e) return undefined;
      this.sim!.redeliver(e, { retryReason: "timeout" });
      return `an app_mention delivered again (${e.envelopeId})`;
    },
    "slack-delete-reply": (random) => {
      const live = this.botMessages().filter((m) => m.live && !m.deleted && m.userMessageId !== undefined);
      const m = live[Math.floor(random() * live.length)];
      if (!m) return undefined;
      this.sim!.deleteMessage(TEAM, { channel: this.channelOfMessage(m.messageId)!, ts: m.messageId, by: "U0CHAOSADMIN" });
      return this.deleted({ userMessageId: m.userMessageId!, messageId: m.messageId, at: Date.now() });
    },
  };

  private channelOfMessage(ts: string): string | undefined {
    for (let c = 0; c < this.o.conversations; c++) if (this.sim!.message(TEAM, channelOf(c), ts)) return channelOf(c);
    return undefined;
  }
}
