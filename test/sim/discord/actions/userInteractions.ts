/**
 * What a test makes a user do with the bot's application: run a slash command (type 2), click a
 * component on a message (type 3), type into an autocomplete option (type 4) or submit a modal the
 * bot showed (type 5). Builds the INTERACTION_CREATE payload as Discord sends it — `member` with
 * its permissions in the channel, `app_permissions`, subcommands, `focused` options — dispatches
 * it, and returns a handle on the bot's responses. A command Discord would hide from the member
 * (`default_member_permissions`, command permission overrides) is refused with an Error unless
 * `ignoreCommandPermissions` models a server override the simulator does not track.
 */
import { commandAccess } from "../state/commandAccess.ts";
import type { InteractionState } from "../state/InteractionStore.ts";
import { DM_APP_PERMISSIONS } from "../state/permissions.ts";
import type { SimState } from "../state/SimState.ts";
import { channelWire, memberWire, userWire } from "../state/wire.ts";
import type { CommandRecord, InteractionResponseRecord, Json, MessageRecord } from "../types.ts";
import { clone, isObject, waitFor } from "../util.ts";

type RawOption = { name: string; type: number; value?: unknown; options?: unknown[]; focused?: boolean };

export interface InteractionOptions {
  /** 2 application command, 3 message component, 4 autocomplete, 5 modal submit */
  type: 2 | 3 | 4 | 5;
  /** command name (types 2 and 4) */
  name?: string;
  /** command options: name → value (typed from the registered command), or raw option objects */
  options?: Record<string, string | number | boolean> | RawOption[];
  /** the subcommand run (types 2 and 4); its options are `options` */
  subcommand?: string;
  /** the subcommand group of `subcommand` */
  subcommandGroup?: string;
  /** autocomplete (type 4): the option being typed; its value is sent as the partial string typed so far */
  focused?: string;
  /** component custom_id (type 3), or the modal's custom_id (type 5, defaults to the shown modal's) */
  customId?: string;
  /** select menu values (type 3) */
  values?: string[];
  /** modal submit (type 5): text input custom_id → value */
  fields?: Record<string, string>;
  /** modal submit (type 5): the interaction (id or handle) whose type 9 callback showed the modal */
  modalOf?: string | { id: string };
  channelId: string;
  guildId?: string;
  user: { id: string; username: string; bot?: boolean; global_name?: string | null };
  /** the message carrying the component (type 3) */
  messageId?: string;
  /** dispatch even when Discord would hide the command from this member (models an override made in the Discord client) */
  ignoreCommandPermissions?: boolean;
  locale?: string;
}

export interface InteractionHandle {
  id: string;
  token: string;
  payload: Json;
  /** every callback/webhook response recorded for this interaction, in order */
  responses(): InteractionResponseRecord[];
  /** resolves with the first response matching `pred` (default: any) */
  waitForResponse(pred?: (r: InteractionResponseRecord) => boolean, timeoutMs?: number): Promise<InteractionResponseRecord>;
  /** the original response message (reply/deferred/updated message), if any */
  original(): MessageRecord | undefined;
  /** the modal the bot showed (type 9 callback `data`), if any */
  modal(): Json | undefined;
  /** the autocomplete choices the bot answered (type 8 callback), if any */
  choices(): unknown[] | undefined;
}

/** Dispatches INTERACTION_CREATE and returns a handle on its responses. */
export function userInteraction(state: SimState, opts: InteractionOptions): InteractionHandle {
  const { world } = state;
  const ch = world.requireChannel(opts.channelId);
  const guildId = opts.guildId ?? ch.guildId;
  const user = world.addUser({
    id: opts.user.id,
    username: opts.user.username,
    bot: opts.user.bot ?? false,
    global_name: opts.user.global_name ?? null,
  });
  world.ensureMember(guildId, user);
  const id = state.nextId();
  const token = `aW50ZXJhY3Rpb246${id}:${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  let data: Json;
  let targetMessageId: string | null = null;
  let message: Json | undefined;
  if (opts.type === 2 || opts.type === 4) {
    if (!opts.name) throw new Error(`interaction type ${opts.type} needs a command name`);
    const cmd = state.commands.find(opts.name, guildId);
    if (!opts.ignoreCommandPermissions) {
      const access = commandAccess(world, state.commands, cmd, ch.id, user.id);
      if (!access.allowed)
        throw new Error(
          `Discord would not offer /${opts.name} to ${user.username} in ${ch.id}: ${access.reason} (pass ignoreCommandPermissions to model an override)`,
        );
    }
    data = { id: cmd?.id ?? state.nextId(), name: opts.name, type: 1, ...(guildId && cmd?.guild_id ? { guild_id: guildId } : {}) };
    const options = commandOptions(opts, cmd);
    if (options.length > 0) data.options = options;
  } else if (opts.type === 3) {
    if (!opts.customId || !opts.messageId) throw new Error("interaction type 3 needs customId and messageId");
    const m = state.messages.require(opts.messageId);
    targetMessageId = m.wire.id;
    message = state.messages.fullWire(m.wire.id);
    const component = findComponent(m.wire.components, opts.customId);
    if (!component) throw new Error(`message ${opts.messageId} has no component with custom_id ${opts.customId}`);
    data = { custom_id: opts.customId, component_type: Number(component.type ?? 2) };
    if (opts.values) data.values = opts.values;
  } else {
    const source = opts.modalOf ? state.interactions.get(typeof opts.modalOf === "string" ? opts.modalOf : opts.modalOf.id) : undefined;
    if (opts.modalOf && !source?.modal) throw new Error("modalOf: that interaction showed no modal (type 9 callback)");
    const modal = source?.modal ?? undefined;
    const customId = opts.customId ?? (typeof modal?.custom_id === "string" ? modal.custom_id : undefined);
    if (!customId) throw new Error("interaction type 5 needs customId or modalOf");
    if (modal && customId !== modal.custom_id) throw new Error(`the modal shown has custom_id ${String(modal.custom_id)}, not ${customId}`);
    data = { custom_id: customId, components: modalComponents(modal, opts.fields ?? {}) };
    if (source?.targetMessageId) {
      targetMessageId = source.targetMessageId;
      message = state.messages.fullWire(source.targetMessageId);
    }
  }
  const payload: Json = {
    id,
    application_id: state.applicationId,
    type: opts.type,
    data,
    token,
    version: 1,
    channel: channelWire(world, ch),
    channel_id: ch.id,
    app_permissions: (ch.guildId ? world.botPermissions(ch) : DM_APP_PERMISSIONS).toString(),
    locale: opts.locale ?? "en-US",
    entitlements: [],
    authorizing_integration_owners: guildId ? { "0": guildId } : { "0": "0" },
    context: guildId ? 0 : 1,
    attachment_size_limit: state.attachmentSizeLimit,
  };
  if (guildId) {
    payload.guild_id = guildId;
    payload.guild_locale = "en-US";
    payload.guild = { id: guildId, locale: "en-US", features: [] };
    payload.member = {
      ...memberWire(world, world.requireGuild(guildId), user.id),
      permissions: world.userPermissions(ch, user.id).toString(),
    };
  } else {
    payload.user = userWire(world, user.id);
  }
  if (message) payload.message = message;
  const it: InteractionState = {
    id,
    token,
    type: opts.type,
    channelId: ch.id,
    guildId,
    userId: user.id,
    payload,
    createdAt: Date.now(),
    acked: false,
    callbackType: null,
    originalMessageId: null,
    targetMessageId,
    commandName: opts.name ?? null,
    modal: null,
    choices: null,
  };
  state.interactions.add(it);
  state.dispatch("INTERACTION_CREATE", payload);
  const responses = () => state.interactionResponses.filter((r) => r.interactionId === id);
  return {
    id,
    token,
    payload: clone(payload),
    responses,
    waitForResponse: (pred = () => true, timeoutMs = 5000) =>
      waitFor(() => responses().find(pred), timeoutMs, `a response to interaction ${id}`),
    original: () => (it.originalMessageId ? state.messages.record(it.originalMessageId) : undefined),
    modal: () => (it.modal ? clone(it.modal) : undefined),
    choices: () => (it.choices ? clone(it.choices) : undefined),
  };
}

function findComponent(components: unknown, customId: string): Json | undefined {
  if (!Array.isArray(components)) return undefined;
  for (const c of components) {
    if (!isObject(c)) continue;
    if (c.custom_id === customId) return c;
    const inner =
      findComponent(c.components, customId) ??
      (isObject(c.accessory) && c.accessory.custom_id === customId ? c.accessory : undefined) ??
      (isObject(c.component) && c.component.custom_id === customId ? c.component : undefined);
    if (inner) return inner;
  }
  return undefined;
}

/** The declared options at the level `opts` addresses (a subcommand's, or the command's). */
function declaredOptions(cmd: CommandRecord | undefined, opts: InteractionOptions): Json[] {
  let level = Array.isArray(cmd?.options) ? (cmd.options as Json[]) : [];
  if (opts.subcommandGroup) level = (level.find((o) => o.name === opts.subcommandGroup)?.options as Json[] | undefined) ?? [];
  if (opts.subcommand) level = (level.find((o) => o.name === opts.subcommand)?.options as Json[] | undefined) ?? [];
  return level;
}

/** Options given as name → value get the declared option type (else one guessed from the value); wrapped in the subcommand (group). */
function commandOptions(opts: InteractionOptions, cmd: CommandRecord | undefined): unknown[] {
  let leaf: unknown[] = [];
  if (Array.isArray(opts.options)) leaf = clone(opts.options);
  else if (opts.options) {
    const declared = declaredOptions(cmd, opts);
    leaf = Object.entries(opts.options).map(([name, value]) => {
      const decl = declared.find((o) => o.name === name);
      let type = typeof decl?.type === "number" ? decl.type : 3;
      if (!decl) {
        if (typeof value === "boolean") type = 5;
        else if (typeof value === "number") type = Number.isInteger(value) ? 4 : 10;
      }
      const focused = opts.type === 4 && opts.focused === name;
      return focused ? { name, type, value: String(value), focused: true } : { name, type, value };
    });
  }
  if (opts.type === 4 && opts.focused && !leaf.some((o) => isObject(o) && o.focused === true)) {
    const decl = declaredOptions(cmd, opts).find((o) => o.name === opts.focused);
    leaf.push({ name: opts.focused, type: typeof decl?.type === "number" ? decl.type : 3, value: "", focused: true });
  }
  if (!opts.subcommand) return leaf;
  const sub = { name: opts.subcommand, type: 1, ...(leaf.length > 0 ? { options: leaf } : {}) };
  return opts.subcommandGroup ? [{ name: opts.subcommandGroup, type: 2, options: [sub] }] : [sub];
}

/** MODAL_SUBMIT components in the modal's own layout (action rows or labels around text inputs). */
function modalComponents(modal: Json | undefined, fields: Record<string, string>): Json[] {
  const input = (c: Json): Json => {
    const customId = String(c.custom_id);
    const value = fields[customId] ?? "";
    const required = c.required !== false;
    if (required && value === "") throw new Error(`Discord would not submit the modal: text input ${customId} is required`);
    if (typeof c.min_length === "number" && value !== "" && value.length < c.min_length)
      throw new Error(`Discord would not submit the modal: ${customId} is shorter than ${c.min_length}`);
    if (typeof c.max_length === "number" && value.length > c.max_length)
      throw new Error(`Discord would not submit the modal: ${customId} is longer than ${c.max_length}`);
    return { type: 4, ...(c.id !== undefined ? { id: c.id } : {}), custom_id: customId, value };
  };
  if (!modal)
    return Object.entries(fields).map(([customId, value]) => ({ type: 1, components: [{ type: 4, custom_id: customId, value }] }));
  const out: Json[] = [];
  for (const c of Array.isArray(modal.components) ? (modal.components as Json[]) : []) {
    if (c.type === 1 && Array.isArray(c.components)) {
      out.push({ type: 1, components: (c.components as Json[]).filter((x) => x.type === 4).map(input) });
    } else if (c.type === 18 && isObject(c.component) && c.component.type === 4) {
      out.push({ type: 18, ...(c.id !== undefined ? { id: c.id } : {}), component: input(c.component) });
    } else if (c.type === 10) {
      out.push({ type: 10, ...(c.id !== undefined ? { id: c.id } : {}) });
    }
  }
  return out;
}
