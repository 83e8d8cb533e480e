/**
 * The Discord simulator's `enforce_nonce` and faults after commit, driven by the real discord.js
 * client: a retried create with the same nonce returns the first message; a write that was saved
 * and then answered 5xx / reset / closed / never is retried (or not) as discord.js does, and the
 * duplicates it leaves are recorded.
 */
import { Client, Events, GatewayIntentBits, type Interaction, MessageFlags, Partials, type TextChannel } from "discord.js";
import { afterEach, describe, expect, it } from "vitest";
import { DiscordSimulator } from "../sim/discord/DiscordSimulator.ts";

const BOT = "900000000000000001";
const GUILD = "200000000000000001";
const GENERAL = "300000000000000001";
const ALICE = { id: "500000000000000001", username: "alice" };
const CREATE = /^\/channels\/\d+\/messages$/;
const EDIT = /^\/channels\/\d+\/messages\/\d+$/;

let sim: DiscordSimulator | undefined;
let client: Client | undefined;

afterEach(async () => {
  await client?.destroy();
  client = undefined;
  await sim?.stop();
  sim = undefined;
});

async function setup(restTimeoutMs = 15_000): Promise<{ sim: DiscordSimulator; client: Client; general: TextChannel }> {
  sim = await DiscordSimulator.start({ botUserId: BOT });
  sim.addGuild({ id: GUILD, name: "G", channels: [{ id: GENERAL, name: "general", type: 0 }], members: [{ user: ALICE }] });
  client = new Client({
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.DirectMessages],
    partials: [Partials.Channel],
    rest: { api: sim.apiBase, timeout: restTimeoutMs },
  });
  const ready = new Promise<void>((resolve) => client!.once(Events.ClientReady, () => resolve()));
  await client.login("fake-token-for-sim");
  await ready;
  return { sim, client, general: client.channels.cache.get(GENERAL) as TextChannel };
}

const creates = (s: DiscordSimulator) => s.dispatches.filter((d) => d.t === "MESSAGE_CREATE" && !d.replay);

describe("enforce_nonce", () => {
  it("returns the message already created with the same nonce, creates anew without enforce or after the window", async () => {
    const { sim, general } = await setup();
    const first = await general.send({ content: "one", nonce: "req-1", enforceNonce: true });
    const again = await general.send({ content: "one (retry)", nonce: "req-1", enforceNonce: true });
    expect(again.id).toBe(first.id);
    expect(again.content).toBe("one");
    expect(sim.messages(GENERAL).map((m) => m.content)).toEqual(["one"]);
    expect(sim.nonceHits).toMatchObject([{ nonce: "req-1", messageId: first.id, channelId: GENERAL, authorId: BOT }]);
    expect(creates(sim)).toHaveLength(1);

    // the nonce is echoed on the message
    expect(first.nonce).toBe("req-1");

    // same nonce without enforce_nonce: a second message
    const loose = await general.send({ content: "two", nonce: "req-1" });
    expect(loose.id).not.toBe(first.id);

    // past the window: a new message even with enforce_nonce
    const fresh = await general.send({ content: "three", nonce: "req-3", enforceNonce: true });
    sim.ageNonces(3 * 60 * 1000);
    const late = await general.send({ content: "three again", nonce: "req-3", enforceNonce: true });
    expect(late.id).not.toBe(fresh.id);
    expect(sim.messages(GENERAL)).toHaveLength(4);

    // a deleted message does not hold its nonce
    const gone = await general.send({ content: "gone", nonce: "req-4", enforceNonce: true });
    sim.moderatorDeletes(gone.id);
    const back = await general.send({ content: "gone again", nonce: "req-4", enforceNonce: true });
    expect(back.id).not.toBe(gone.id);

    // nonces are at most 25 characters
    await expect(general.send({ content: "x", nonce: "n".repeat(26), enforceNonce: true })).rejects.toMatchObject({
      status: 400,
      code: 50035,
    });
  });
});

describe("faults after commit", () => {
  it("a create saved then answered 500 is retried: a duplicate without a nonce, the same message with enforce_nonce", async () => {
    const { sim, general } = await setup();
    sim.failAfterCommit({ method: "POST", path: CREATE }, { status: 500 });
    const m = await general.send({ content: "placeholder" });
    const stored = sim.messages(GENERAL);
    expect(stored.map((x) => x.content)).toEqual(["placeholder", "placeholder"]);
    expect(m.id).toBe(stored[1]!.id);
    expect(sim.afterCommitFaults).toMatchObject([{ method: "POST", committedStatus: 200, answered: 500, messageIds: [stored[0]!.id] }]);
    expect(sim.requests.filter((r) => r.method === "POST" && CREATE.test(r.path)).map((r) => r.status)).toEqual([500, 200]);

    sim.failAfterCommit({ method: "POST", path: CREATE }, { status: 502 });
    const once = await general.send({ content: "with nonce", nonce: "ask-42", enforceNonce: true });
    const withNonce = sim.messages(GENERAL).filter((x) => x.content === "with nonce");
    expect(withNonce.map((x) => x.id)).toEqual([once.id]);
    expect(sim.nonceHits.map((h) => h.messageId)).toEqual([once.id]);
  });

  it("a TCP reset after commit is retried, a closed socket is not (the call rejects though the message exists), a hang times out and retries", async () => {
    const { sim, general } = await setup(400);
    sim.failAfterCommit({ method: "POST", path: CREATE }, { drop: "reset" });
    await general.send({ content: "after reset", nonce: "r1", enforceNonce: true });
    expect(sim.messages(GENERAL).filter((m) => m.content === "after reset")).toHaveLength(1);
    expect(sim.afterCommitFaults.at(-1)).toMatchObject({ answered: "reset" });
    expect(sim.requests.find((r) => r.afterCommit)?.status).toBe(0);

    sim.failAfterCommit({ method: "POST", path: CREATE }, { drop: "close" });
    await expect(general.send({ content: "after close" })).rejects.toThrow(/other side closed/);
    expect(sim.messages(GENERAL).filter((m) => m.content === "after close")).toHaveLength(1);

    sim.failAfterCommit({ method: "POST", path: CREATE }, { hang: true, ms: 2000 });
    await general.send({ content: "after hang" });
    expect(sim.messages(GENERAL).filter((m) => m.content === "after hang")).toHaveLength(2);
    expect(sim.afterCommitFaults.at(-1)).toMatchObject({ answered: "hang" });
  });

  it("an edit saved then answered 502 is applied twice; a refused request does not use the fault up", async () => {
    const { sim, general } = await setup();
    const m = await general.send({ content: "draft" });
    sim.failAfterCommit({ method: "PATCH", path: EDIT }, { status: 502 });
    await expect(m.edit({ content: "x".repeat(2001) })).rejects.toMatchObject({ code: 50035 });
    await m.edit({ content: "final" });
    expect(sim.history(m.id).map((v) => [v.kind, v.content])).toEqual([
      ["create", "draft"],
      ["edit", "final"],
      ["edit", "final"],
    ]);
    expect(sim.afterCommitFaults).toMatchObject([{ method: "PATCH", answered: 502, messageIds: [m.id] }]);
  });

  it("an interaction callback saved then answered 500: the retry fails with 40060; a follow-up saved then answered 500 is posted twice", async () => {
    const { sim, client } = await setup();
    const outcome: Array<{ step: string; code?: unknown }> = [];
    client.on(Events.InteractionCreate, (i: Interaction) => {
      void (async () => {
        if (!i.isChatInputCommand()) return;
        try {
          await i.deferReply();
          outcome.push({ step: "deferred" });
        } catch (e) {
          outcome.push({ step: "defer failed", code: (e as { code?: unknown }).code });
        }
        // discord.js marks the interaction as not deferred after the failed callback; the webhook still works
        await i.webhook.send({ content: "the answer", allowedMentions: { parse: [] } });
        await i.webhook.send({ content: "more", flags: MessageFlags.Ephemeral });
        outcome.push({ step: "followed up" });
      })();
    });
    sim.failAfterCommit({ method: "POST", path: /^\/interactions\/\d+\/[^/]+\/callback$/ }, { status: 500 });
    sim.failAfterCommit({ method: "POST", path: /^\/webhooks\/\d+\/[^/]+$/ }, { status: 500 });
    const ask = sim.interaction({ type: 2, name: "ask", channelId: GENERAL, user: ALICE });
    await sim.waitFor(() => outcome.some((o) => o.step === "followed up"), 10_000, "the follow-ups");

    expect(outcome[0]).toEqual({ step: "defer failed", code: 40060 });
    const callbacks = ask.responses().filter((r) => r.kind === "callback");
    expect(callbacks.map((r) => [r.type, r.status])).toEqual([
      [5, 204],
      [5, 400],
    ]);
    // the first follow-up filled the deferred message; its retry was posted as a second message
    const answers = sim.messages(GENERAL).filter((m) => m.content === "the answer");
    expect(answers).toHaveLength(2);
    expect(answers[0]!.id).toBe(ask.original()?.id);
    expect(sim.afterCommitFaults.map((f) => f.answered)).toEqual([500, 500]);
    expect(sim.afterCommitFaults[1]!.messageIds).toEqual([answers[0]!.id]);
  });
});
