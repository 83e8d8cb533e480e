/**
 * Replays of every dispatch kind after RESUME in the Discord simulator, with the real discord.js
 * client: a forced-duplicate switch per kind (MESSAGE_CREATE, command, button, autocomplete, modal
 * submit) sends already-delivered dispatches again on the next resume; a replayed interaction
 * reaches the bot a second time and its second callback fails with 40060.
 */
import {
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  Client,
  Events,
  GatewayIntentBits,
  type Interaction,
  ModalBuilder,
  Partials,
  type TextChannel,
  TextInputBuilder,
  TextInputStyle,
} from "discord.js";
import { afterEach, describe, expect, it } from "vitest";
import { DiscordSimulator } from "../sim/discord/DiscordSimulator.ts";

const BOT = "900000000000000001";
const GUILD = "200000000000000001";
const GENERAL = "300000000000000001";
const ALICE = { id: "500000000000000001", username: "alice" };

let sim: DiscordSimulator | undefined;
let client: Client | undefined;

afterEach(async () => {
  await client?.destroy();
  client = undefined;
  await sim?.stop();
  sim = undefined;
});

interface Seen {
  kind: string;
  id: string;
  error?: unknown;
}

async function setup(): Promise<{ sim: DiscordSimulator; client: Client; seen: Seen[]; raw: Array<{ t: string; id: unknown }> }> {
  sim = await DiscordSimulator.start({ botUserId: BOT, heartbeatIntervalMs: 300, interactionAckTimeoutMs: 30_000 });
  sim.addGuild({ id: GUILD, name: "G", channels: [{ id: GENERAL, name: "general", type: 0 }], members: [{ user: ALICE }] });
  client = new Client({
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages],
    partials: [Partials.Channel],
    rest: { api: sim.apiBase },
  });
  const seen: Seen[] = [];
  const raw: Array<{ t: string; id: unknown }> = [];
  client.on(Events.Raw, (p: { t?: string; d?: { id?: unknown } }) => {
    if (p.t) raw.push({ t: p.t, id: p.d?.id });
  });
  client.on(Events.InteractionCreate, (i: Interaction) => {
    void (async () => {
      const kind = i.isChatInputCommand()
        ? "command"
        : i.isButton()
          ? "button"
          : i.isAutocomplete()
            ? "autocomplete"
            : i.isModalSubmit()
              ? "modal"
              : "other";
      const entry: Seen = { kind, id: i.id };
      seen.push(entry);
      try {
        if (i.isChatInputCommand()) await i.reply({ content: "reset done" });
        else if (i.isButton() && i.customId === "open") {
          await i.showModal(
            new ModalBuilder()
              .setCustomId("ask")
              .setTitle("Ask")
              .addComponents(
                new ActionRowBuilder<TextInputBuilder>().addComponents(
                  new TextInputBuilder().setCustomId("q").setLabel("Question").setStyle(TextInputStyle.Short),
                ),
              ),
          );
        } else if (i.isButton()) await i.update({ content: "stopped", components: [] });
        else if (i.isAutocomplete()) await i.respond([{ name: "x", value: "x" }]);
        else if (i.isModalSubmit()) await i.reply({ content: `asked ${i.fields.getTextInputValue("q")}` });
      } catch (e) {
        entry.error = (e as { code?: unknown }).code;
      }
    })();
  });
  const ready = new Promise<void>((resolve) => client!.once(Events.ClientReady, () => resolve()));
  await client.login("fake-token-for-sim");
  await ready;
  await sim.waitFor(() => sim!.heartbeatCount > 0, 3000, "a heartbeat");
  return { sim, client, seen, raw };
}

describe("replays after RESUME", () => {
  it("duplicates every kind switched on: MESSAGE_CREATE, command, button, autocomplete, modal submit; second callbacks get 40060", async () => {
    const { sim, client, seen, raw } = await setup();
    const general = client.channels.cache.get(GENERAL) as TextChannel;
    const buttons = await general.send({
      content: "reply",
      components: [
        new ActionRowBuilder<ButtonBuilder>().addComponents(
          new ButtonBuilder().setCustomId("stop").setLabel("Stop").setStyle(ButtonStyle.Danger),
          new ButtonBuilder().setCustomId("open").setLabel("Ask").setStyle(ButtonStyle.Primary),
        ),
      ],
    });
    const mention = sim.userSays({ channelId: GENERAL, author: ALICE, content: "hi", mentionsBot: true });
    const command = sim.interaction({ type: 2, name: "reset", channelId: GENERAL, user: ALICE });
    const button = sim.interaction({ type: 3, customId: "stop", messageId: buttons.id, channelId: GENERAL, user: ALICE });
    const auto = sim.interaction({ type: 4, name: "ask", options: { prompt: "wh" }, focused: "prompt", channelId: GENERAL, user: ALICE });
    const open = sim.interaction({ type: 3, customId: "open", messageId: buttons.id, channelId: GENERAL, user: ALICE });
    await open.waitForResponse((r) => r.type === 9);
    const modal = sim.interaction({ type: 5, modalOf: open, fields: { q: "why?" }, channelId: GENERAL, user: ALICE });
    await modal.waitForResponse();
    await sim.waitFor(() => seen.length === 5, 5000, "five interactions");
    expect(seen.map((s) => s.error)).toEqual([undefined, undefined, undefined, undefined, undefined]);

    sim.duplicateOnResume(["MESSAGE_CREATE", "command", "button", "autocomplete", "modal"]);
    sim.dropConnection(4000);
    await sim.waitFor(() => sim.resumes.length === 1, 5000, "RESUME");
    const ids = [command.id, button.id, auto.id, modal.id];
    await sim.waitFor(() => ids.every((id) => seen.filter((s) => s.id === id).length === 2), 5000, "the duplicated interactions");
    expect(raw.filter((p) => p.t === "MESSAGE_CREATE" && p.id === mention.id)).toHaveLength(2);
    for (const id of ids) {
      const again = seen.filter((s) => s.id === id)[1]!;
      await sim.waitFor(() => again.error !== undefined, 5000, `the second callback of ${again.kind}`);
      expect(again.error).toBe(40060);
    }
    // both button presses (Stop and the one that opened the modal) are "button" dispatches
    expect(seen.filter((s) => s.id === open.id)).toHaveLength(2);
    expect(sim.resumes[0]!.replayed).toBeGreaterThanOrEqual(6);
    expect(sim.dispatches.filter((d) => d.replay && d.t === "INTERACTION_CREATE")).toHaveLength(5);

    // already-duplicated dispatches are not duplicated again; a kind switched off is not duplicated
    sim.duplicateOnResume("MESSAGE_CREATE", false);
    const later = sim.userSays({ channelId: GENERAL, author: ALICE, content: "later", mentionsBot: true });
    const reset2 = sim.interaction({ type: 2, name: "reset", channelId: GENERAL, user: ALICE });
    await sim.waitFor(() => seen.some((s) => s.id === reset2.id), 5000, "the second command");
    await sim.waitFor(() => raw.some((p) => p.id === later.id), 5000, "the later message");
    sim.dropConnection(4000);
    await sim.waitFor(() => sim.resumes.length === 2, 5000, "second RESUME");
    await sim.waitFor(() => seen.filter((s) => s.id === reset2.id).length === 2, 5000, "the command duplicated");
    expect(raw.filter((p) => p.id === later.id)).toHaveLength(1);
    expect(seen.filter((s) => s.id === command.id)).toHaveLength(2);
  });

  it("replayOnNextResume(interactionId) sends that one INTERACTION_CREATE again", async () => {
    const { sim, seen } = await setup();
    const command = sim.interaction({ type: 2, name: "reset", channelId: GENERAL, user: ALICE });
    await command.waitForResponse();
    expect(sim.replayOnNextResume(command.id)).toBe(1);
    sim.dropConnection(4000);
    await sim.waitFor(() => seen.filter((s) => s.id === command.id).length === 2, 5000, "the replayed command");
    const second = seen.filter((s) => s.id === command.id)[1]!;
    await sim.waitFor(() => second.error !== undefined, 5000, "the refused second reply");
    expect(second.error).toBe(40060);
    expect(command.responses().map((r) => r.status)).toEqual([204, 400]);
  });
});
