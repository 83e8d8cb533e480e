/**
 * Admin commands against the Discord simulator with the real discord.js client: commands with
 * subcommands, choices, autocomplete and default_member_permissions; members whose roles carry
 * Manage Channels / Manage Server / Administrator, with `member.permissions` and `app_permissions`
 * as Discord computes them (channel overwrites included); autocomplete answered with type 8; a
 * modal shown (type 9) and submitted.
 */
import {
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  Client,
  Events,
  GatewayIntentBits,
  type Interaction,
  MessageFlags,
  ModalBuilder,
  Partials,
  PermissionFlagsBits,
  type TextChannel,
  TextInputBuilder,
  TextInputStyle,
} from "discord.js";
import { afterEach, describe, expect, it } from "vitest";
import { DiscordSimulator, Permission } from "../sim/discord/DiscordSimulator.ts";

const BOT = "900000000000000001";
const GUILD = "200000000000000001";
const GENERAL = "300000000000000001";
const LOCKED = "300000000000000002";
const DM = "400000000000000001";
const MODS = "600000000000000001";
const ADMINS = "600000000000000002";
const HELPERS = "600000000000000003";
const OWNER = { id: "500000000000000009", username: "owner" };
const ALICE = { id: "500000000000000001", username: "alice" };
const BOB = { id: "500000000000000002", username: "bob" };
const CAROL = { id: "500000000000000003", username: "carol" };
const DAVE = { id: "500000000000000004", username: "dave" };

let sim: DiscordSimulator | undefined;
let client: Client | undefined;

afterEach(async () => {
  await client?.destroy();
  client = undefined;
  await sim?.stop();
  sim = undefined;
});

async function setup(): Promise<{ sim: DiscordSimulator; client: Client }> {
  sim = await DiscordSimulator.start({ botUserId: BOT });
  sim.addGuild({
    id: GUILD,
    name: "G",
    ownerId: OWNER.id,
    roles: [
      { id: MODS, name: "mods", permissions: String(Permission.ManageChannels | Permission.ManageMessages), position: 1 },
      { id: ADMINS, name: "admins", permissions: String(Permission.Administrator), position: 2 },
      { id: HELPERS, name: "helpers", permissions: "0", position: 3 },
    ],
    channels: [
      { id: GENERAL, name: "general", type: 0 },
      {
        id: LOCKED,
        name: "locked",
        type: 0,
        permission_overwrites: [{ id: MODS, type: 0, allow: "0", deny: String(Permission.ManageChannels) }],
      },
    ],
    members: [
      { user: OWNER },
      { user: ALICE },
      { user: BOB, roles: [MODS] },
      { user: CAROL, roles: [ADMINS] },
      { user: DAVE, roles: [HELPERS] },
    ],
  });
  sim.addDmChannel({ id: DM, user: ALICE });
  client = new Client({
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.DirectMessages],
    partials: [Partials.Channel],
    rest: { api: sim.apiBase },
  });
  const ready = new Promise<void>((resolve) => client!.once(Events.ClientReady, () => resolve()));
  await client.login("fake-token-for-sim");
  await ready;
  await client.application!.commands.set([
    {
      name: "settings",
      description: "Channel settings",
      defaultMemberPermissions: PermissionFlagsBits.ManageChannels,
      options: [
        { type: 1, name: "show", description: "Show the settings" },
        {
          type: 1,
          name: "set",
          description: "Change a setting",
          options: [
            { type: 3, name: "key", description: "Which setting", required: true, autocomplete: true },
            { type: 3, name: "value", description: "New value", required: true },
            {
              type: 3,
              name: "scope",
              description: "Where",
              choices: [
                { name: "channel", value: "channel" },
                { name: "server", value: "server" },
              ],
            },
          ],
        },
      ],
    },
    { name: "server-settings", description: "Server settings", defaultMemberPermissions: PermissionFlagsBits.ManageGuild },
    { name: "help", description: "How this bot works" },
  ]);
  return { sim, client };
}

describe("admin commands in the Discord simulator", () => {
  it("records default_member_permissions and options; refuses choices with autocomplete and over 25 choices", async () => {
    const { sim, client } = await setup();
    const settings = sim.commands.find((c) => c.name === "settings")!;
    expect(settings.default_member_permissions).toBe(String(Permission.ManageChannels));
    expect(sim.commands.find((c) => c.name === "help")?.default_member_permissions).toBeNull();
    const set = (settings.options as Array<{ name: string; options?: Array<{ name: string; choices?: unknown[] }> }>).find(
      (o) => o.name === "set",
    );
    expect(set?.options?.find((o) => o.name === "scope")?.choices).toHaveLength(2);

    const both = {
      name: "bad",
      description: "x",
      options: [{ type: 3, name: "k", description: "k", autocomplete: true, choices: [{ name: "a", value: "a" }] }],
    };
    await expect(client.application!.commands.create(both as never)).rejects.toMatchObject({ status: 400, code: 50035 });
    const many = Array.from({ length: 26 }, (_, i) => ({ name: `c${i}`, value: `c${i}` }));
    await expect(
      client.application!.commands.create({
        name: "bad",
        description: "x",
        options: [{ type: 3, name: "k", description: "k", choices: many }],
      }),
    ).rejects.toMatchObject({ code: 50035 });
  });

  it("member.permissions and app_permissions as Discord computes them; commands hidden by default_member_permissions unless overridden", async () => {
    const { sim, client } = await setup();
    const seen: Array<{ user: string; sub: string | null; key: string | null; manageChannels: boolean; admin: boolean; appSend: boolean }> =
      [];
    client.on(Events.InteractionCreate, (i: Interaction) => {
      if (!i.isChatInputCommand()) return;
      seen.push({
        user: i.user.id,
        sub: i.options.getSubcommand(false),
        key: i.options.getString("key"),
        manageChannels: i.memberPermissions?.has(PermissionFlagsBits.ManageChannels, false) ?? false,
        admin: i.memberPermissions?.has(PermissionFlagsBits.Administrator) ?? false,
        appSend: i.appPermissions.has(PermissionFlagsBits.SendMessages),
      });
      void i.reply({ content: "ok", flags: MessageFlags.Ephemeral });
    });

    // a plain member is not offered the command …
    expect(sim.canUseCommand("settings", GENERAL, ALICE.id)).toMatchObject({ allowed: false });
    expect(() => sim.interaction({ type: 2, name: "settings", subcommand: "show", channelId: GENERAL, user: ALICE })).toThrow(
      /would not offer \/settings/,
    );
    expect(sim.canUseCommand("help", GENERAL, ALICE.id).allowed).toBe(true);
    // … unless a server admin's override lets them (or the test models one)
    const forced = sim.interaction({
      type: 2,
      name: "settings",
      subcommand: "show",
      channelId: GENERAL,
      user: ALICE,
      ignoreCommandPermissions: true,
    });
    await forced.waitForResponse();
    expect(seen.at(-1)).toMatchObject({ user: ALICE.id, sub: "show", manageChannels: false, admin: false, appSend: true });

    // a moderator (role with Manage Channels) may, with options in the subcommand
    const mod = sim.interaction({
      type: 2,
      name: "settings",
      subcommand: "set",
      options: { key: "temperature", value: "0.4" },
      channelId: GENERAL,
      user: BOB,
    });
    await mod.waitForResponse();
    expect(seen.at(-1)).toMatchObject({ user: BOB.id, sub: "set", key: "temperature", manageChannels: true, admin: false });
    expect(BigInt(mod.payload.member ? (mod.payload.member as { permissions: string }).permissions : "0") & Permission.ManageChannels).toBe(
      Permission.ManageChannels,
    );
    // … but not where a channel overwrite takes Manage Channels from the role, nor /server-settings (Manage Server)
    expect(sim.memberPermissions(LOCKED, BOB.id) & Permission.ManageChannels).toBe(0n);
    expect(sim.canUseCommand("settings", LOCKED, BOB.id).allowed).toBe(false);
    expect(sim.canUseCommand("server-settings", GENERAL, BOB.id).allowed).toBe(false);

    // Administrator and the owner get every permission and every command
    const admin = sim.interaction({ type: 2, name: "server-settings", channelId: LOCKED, user: CAROL });
    await admin.waitForResponse();
    expect(seen.at(-1)).toMatchObject({ user: CAROL.id, admin: true, manageChannels: true });
    expect(sim.canUseCommand("server-settings", GENERAL, OWNER.id)).toMatchObject({ allowed: true, reason: "administrator" });

    // a role override (Server Settings → Integrations) opens /settings to helpers
    sim.setCommandPermissions(GUILD, "settings", [{ id: HELPERS, type: 1, permission: true }]);
    expect(sim.canUseCommand("settings", GENERAL, DAVE.id)).toMatchObject({ allowed: true, reason: "role override" });
    const overrides = await client.application!.commands.permissions.fetch({ guild: GUILD });
    expect([...overrides.values()][0]).toEqual([{ id: HELPERS, type: 1, permission: true }]);

    // app_permissions follows the bot's own overwrites; in DMs it is Discord's fixed DM set
    sim.setChannelOverwrite(GENERAL, { id: BOT, type: 1, deny: Permission.SendMessages });
    const quiet = sim.interaction({ type: 2, name: "help", channelId: GENERAL, user: ALICE });
    await quiet.waitForResponse();
    expect(seen.at(-1)).toMatchObject({ appSend: false });
    const dm = sim.interaction({ type: 2, name: "help", channelId: DM, user: ALICE });
    await dm.waitForResponse();
    expect(dm.payload.app_permissions).toBe(
      String(Permission.AttachFiles | Permission.EmbedLinks | Permission.MentionEveryone | Permission.UseExternalEmojis),
    );
    expect(dm.payload.member).toBeUndefined();
  });

  it("autocomplete (type 4) is answered with type 8 choices; other callback types are refused", async () => {
    const { sim, client } = await setup();
    client.on(Events.InteractionCreate, (i: Interaction) => {
      if (!i.isAutocomplete()) return;
      const typed = i.options.getFocused();
      const keys = ["temperature", "top-k", "persona"].filter((k) => k.startsWith(typed));
      void i.respond(keys.map((k) => ({ name: k, value: k })));
    });
    const ac = sim.interaction({
      type: 4,
      name: "settings",
      subcommand: "set",
      options: { key: "te" },
      focused: "key",
      channelId: GENERAL,
      user: BOB,
    });
    const r = await ac.waitForResponse();
    expect(r).toMatchObject({ kind: "callback", type: 8, status: 204 });
    expect(ac.choices()).toEqual([{ name: "temperature", value: "temperature" }]);
    const sub = (ac.payload.data as { options: Array<{ options: Array<{ focused?: boolean; value: unknown }> }> }).options[0]!;
    expect(sub.options[0]).toMatchObject({ focused: true, value: "te" });

    const other = sim.interaction({ type: 4, name: "settings", subcommand: "set", focused: "key", channelId: GENERAL, user: CAROL });
    await other.waitForResponse();
    const wrong = await fetch(`${sim.apiBase}/v10/interactions/${other.id}/${other.token}/callback`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ type: 4, data: { content: "no" } }),
    });
    expect(wrong.status).toBe(400); // acknowledged already → 40060
    const fresh = sim.interaction({
      type: 4,
      name: "settings",
      subcommand: "set",
      focused: "key",
      channelId: GENERAL,
      user: CAROL,
      ignoreCommandPermissions: true,
    });
    client.removeAllListeners(Events.InteractionCreate);
    const refused = await fetch(`${sim.apiBase}/v10/interactions/${fresh.id}/${fresh.token}/callback`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ type: 4, data: { content: "no" } }),
    });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ code: 50035, errors: { type: { _errors: [{ message: "Value must be one of {8}." }] } } });
  });

  it("a modal shown from a button (type 9) is submitted (type 5) with its fields and can update the message", async () => {
    const { sim, client } = await setup();
    const submitted: string[] = [];
    client.on(Events.InteractionCreate, (i: Interaction) => {
      void (async () => {
        if (i.isButton()) {
          const modal = new ModalBuilder()
            .setCustomId("persona")
            .setTitle("Persona")
            .addComponents(
              new ActionRowBuilder<TextInputBuilder>().addComponents(
                new TextInputBuilder().setCustomId("prompt").setLabel("System prompt").setStyle(TextInputStyle.Paragraph).setMaxLength(50),
              ),
            );
          await i.showModal(modal);
        } else if (i.isModalSubmit()) {
          submitted.push(i.fields.getTextInputValue("prompt"));
          if (i.isFromMessage()) await i.update({ content: `persona: ${i.fields.getTextInputValue("prompt")}`, components: [] });
        }
      })();
    });
    const general = client.channels.cache.get(GENERAL) as TextChannel;
    const msg = await general.send({
      content: "settings",
      components: [
        new ActionRowBuilder<ButtonBuilder>().addComponents(
          new ButtonBuilder().setCustomId("edit").setLabel("Edit").setStyle(ButtonStyle.Primary),
        ),
      ],
    });
    const press = sim.interaction({ type: 3, customId: "edit", messageId: msg.id, channelId: GENERAL, user: BOB });
    await press.waitForResponse((r) => r.type === 9);
    expect(press.modal()).toMatchObject({ custom_id: "persona", title: "Persona" });

    expect(() => sim.interaction({ type: 5, modalOf: press, fields: {}, channelId: GENERAL, user: BOB })).toThrow(/required/);
    expect(() => sim.interaction({ type: 5, modalOf: press, fields: { prompt: "x".repeat(51) }, channelId: GENERAL, user: BOB })).toThrow(
      /longer than 50/,
    );
    const submit = sim.interaction({ type: 5, modalOf: press, fields: { prompt: "You are a pirate." }, channelId: GENERAL, user: BOB });
    await submit.waitForResponse();
    expect(submitted).toEqual(["You are a pirate."]);
    expect(submit.responses()[0]).toMatchObject({ type: 7, messageId: msg.id });
    expect(sim.message(msg.id)?.content).toBe("persona: You are a pirate.");
  });
});
