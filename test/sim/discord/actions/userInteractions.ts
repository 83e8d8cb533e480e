/**
 * What a test makes a user do with the bot's application: run a slash command (type 2) or click a
 * component on a message (type 3). Builds the INTERACTION_CREATE payload as Discord sends it,
 * dispatches it, and returns a handle on the bot's responses.
 */
import type { InteractionState } from "../state/InteractionStore.ts";
import type { SimState } from "../state/SimState.ts";
import { channelWire, memberWire, userWire } from "../state/wire.ts";
import type { CommandRecord, InteractionResponseRecord, Json, MessageRecord } from "../types.ts";
import { clone, isObject, waitFor } from "../util.ts";

export interface InteractionOptions {
  /** 2 application command, 3 message component */
  type: 2 | 3;
  /** command name (type 2) */
  name?: string;
  /** command options: name → value, or raw option objects */
  options?: Record<string, string | number | boolean> | Array<{ name: string; type: number; value?: unknown; options?: unknown[] }>;
  /** component custom_id (type 3) */
  customId?: string;
  /** select menu values (type 3) */
  values?: string[];
  channelId: string;
  guildId?: string;
  user: { id: string; username: string; bot?: boolean; global_name?: string | null };
  /** the message carrying the component (type 3) */
  messageId?: string;
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
}

/** Dispatches INTERACTION_CREATE (slash command or component) and returns a handle on its responses. */
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
  if (opts.type === 2) {
    if (!opts.name) throw new Error("interaction type 2 needs a command name");
    const cmd = state.commands.find(opts.name, guildId);
    data = { id: cmd?.id ?? state.nextId(), name: opts.name, type: 1, ...(guildId && cmd?.guild_id ? { guild_id: guildId } : {}) };
    const options = commandOptions(opts.options, cmd);
    if (options.length > 0) data.options = options;
  } else {
    if (!opts.customId || !opts.messageId) throw new Error("interaction type 3 needs customId and messageId");
    const m = state.messages.require(opts.messageId);
    targetMessageId = m.wire.id;
    message = state.messages.fullWire(m.wire.id);
    const component = findComponent(m.wire.components, opts.customId);
    if (!component) throw new Error(`message ${opts.messageId} has no component with custom_id ${opts.customId}`);
    data = { custom_id: opts.customId, component_type: Number(component.type ?? 2) };
    if (opts.values) data.values = opts.values;
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
    app_permissions: world.botPermissions(ch).toString(),
    locale: "en-US",
    entitlements: [],
    authorizing_integration_owners: guildId ? { "0": guildId } : { "1": user.id },
    context: guildId ? 0 : 1,
    attachment_size_limit: 10485760,
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
  };
}

function findComponent(components: unknown, customId: string): Json | undefined {
  if (!Array.isArray(components)) return undefined;
  for (const c of components) {
    if (!isObject(c)) continue;
    if (c.custom_id === customId) return c;
    const inner =
      findComponent(c.components, customId) ?? (isObject(c.accessory) && c.accessory.custom_id === customId ? c.accessory : undefined);
    if (inner) return inner;
  }
  return undefined;
}

/** Options given as name → value get the declared option type (else one guessed from the value). */
function commandOptions(options: InteractionOptions["options"], cmd: CommandRecord | undefined): unknown[] {
  if (!options) return [];
  if (Array.isArray(options)) return clone(options);
  const declared = Array.isArray(cmd?.options) ? (cmd.options as Json[]) : [];
  return Object.entries(options).map(([name, value]) => {
    const decl = declared.find((o) => o.name === name);
    let type = typeof decl?.type === "number" ? decl.type : 3;
    if (!decl) {
      if (typeof value === "boolean") type = 5;
      else if (typeof value === "number") type = Number.isInteger(value) ? 4 : 10;
    }
    return { name, type, value };
  });
}
