/**
 * Discord in `npm run chaos`: the Discord simulator (test/sim/discord) with one guild and one
 * channel per conversation, the adapter process on it (discord.js over the simulator's REST and
 * gateway), users who mention the bot, and Discord's faults: a placeholder post saved and then
 * answered 500 (the nonce must keep it single), 429s and 5xx on edits, a gateway drop whose RESUME
 * replays message creates, and a moderator deleting a reply being written.
 */
import { discordContent } from "../../adapters/discord/DiscordSink.ts";
import { DiscordSimulator } from "../../test/sim/discord/DiscordSimulator.ts";
import { isRefusal, PlatformTraffic } from "./platformTraffic.ts";
import type { Attempt, ReplySeen } from "./simUsers.ts";

const BOT = "900000000000000001";
const GUILD = "200000000000000001";
const channelOf = (conv: number) => String(300000000000000000n + BigInt(conv + 1));
const userOf = (conv: number) => ({ id: String(500000000000000000n + BigInt(conv + 1)), username: `chaos${conv}` });
const EDIT = /^\/channels\/\d+\/messages\/\d+$/;
const NOTE = /\n-# [^\n]*$/;

export class DiscordTraffic extends PlatformTraffic {
  readonly name = "discord";
  protected readonly readyLine = "discord adapter ready";
  private sim: DiscordSimulator | undefined;

  async startSimulator(): Promise<Record<string, string>> {
    const sim = await DiscordSimulator.start({ botUserId: BOT, heartbeatIntervalMs: 1000 });
    this.sim = sim;
    const conversations = Array.from({ length: this.o.conversations }, (_, c) => c);
    sim.addGuild({
      id: GUILD,
      name: "Chaos",
      channels: conversations.map((c) => ({ id: channelOf(c), name: `chaos-${c}`, type: 0 })),
      members: conversations.map((c) => ({ user: userOf(c) })),
    });
    this.platformEnv = {
      DISCORD_TOKEN: "fake-token-for-sim",
      DISCORD_API_URL: sim.apiBase,
      DISCORD_THREAD_PER_MENTION: "false",
    };
    return this.platformEnv;
  }

  protected async stopSimulator(): Promise<void> {
    await this.sim?.stop();
  }

  say(conv: number, index: number, attempt: number, text: string): Attempt {
    const m = this.sim!.userSays({ channelId: channelOf(conv), author: userOf(conv), content: text, mentionsBot: true });
    return {
      conv,
      index,
      attempt,
      text,
      userMessageId: m.id,
      conversationKey: `discord:${GUILD}:${channelOf(conv)}`,
      requestId: `discord-${m.id}`,
      sentAt: Date.now(),
    };
  }

  reply(a: Attempt): ReplySeen {
    const mine = this.sim!.messages(channelOf(a.conv)).filter(
      (m) => m.authorId === BOT && m.messageReference?.message_id === a.userMessageId,
    );
    if (mine.some((m) => isRefusal(m.content))) return "refused";
    if (mine.length === 0) return "none";
    this.answeredAt(Date.now());
    return "taken";
  }

  protected botMessages() {
    const sim = this.sim!;
    return Array.from({ length: this.o.conversations }, (_, c) => sim.messages(channelOf(c), { includeDeleted: true }))
      .flat()
      .filter((m) => m.authorId === BOT)
      .map((m) => ({
        messageId: m.id,
        userMessageId: m.messageReference?.message_id,
        text: m.content,
        placeholder: m.content.startsWith("⏳"),
        live: JSON.stringify(m.components).includes('"custom_id":"stop:'),
        refusal: isRefusal(m.content),
        deleted: m.deleted,
        postedAt: m.createdAt,
      }));
  }

  protected refusedInPrivate(): boolean {
    return false;
  }

  protected writesToDeleted() {
    const ids = new Set(this.deletions.map((d) => d.messageId));
    return this.sim!.requests.flatMap((r) => {
      const id = r.path.split("/").at(-1)!;
      return EDIT.test(r.path) && r.method !== "GET" && ids.has(id) ? [{ messageId: id, at: r.time }] : [];
    });
  }

  render(stored: string): string {
    return discordContent(stored);
  }

  protected withoutNote(text: string): string {
    return text.replace(NOTE, "");
  }

  readonly faultKinds: Record<string, (random: () => number) => string | undefined> = {
    "discord-create-500-after-commit": () => {
      this.sim!.failAfterCommit({ method: "POST", path: /^\/channels\/\d+\/messages$/ }, { status: 500 });
      return "the next message create is saved, then answered 500";
    },
    "discord-edit-429": () => {
      this.sim!.failNext({ method: "PATCH", path: EDIT }, { status: 429, retryAfterSec: 1 }, 2);
      return "the next two edits answered 429 (retry after 1 s)";
    },
    "discord-edit-5xx": () => {
      this.sim!.failNext({ method: "PATCH", path: EDIT }, { status: 502 }, 2);
      return "the next two edits answered 502";
    },
    "discord-gateway-replay": () => {
      this.sim!.duplicateOnResume("MESSAGE_CREATE", true);
      this.sim!.dropConnection(4000);
      setTimeout(() => this.sim?.duplicateOnResume("MESSAGE_CREATE", false), 10_000).unref();
      return "gateway dropped (4000); the RESUME replays message creates";
    },
    "discord-delete-reply": (random) => {
      const live = this.botMessages().filter((m) => m.live && !m.deleted && m.userMessageId !== undefined);
      const m = live[Math.floor(random() * live.length)];
      if (!m) return undefined;
      this.sim!.userDeletes(m.messageId);
      return this.deleted({ userMessageId: m.userMessageId!, messageId: m.messageId, at: Date.now() });
    },
  };
}
