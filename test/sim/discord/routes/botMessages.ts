/**
 * The write path shared by the message routes and the interaction routes: building, storing and
 * dispatching a message the bot (or its interaction webhook) sends, and applying the bot's edits
 * with Discord's validation. Attachments uploaded with a request get CDN URLs on the simulator.
 */
import { Errors } from "../discordErrors.ts";
import { errorReply, type ParsedRequest, type Reply, type UploadedFile } from "../http/Router.ts";
import { contentTypeFor, FileStore, pngSize } from "../state/FileStore.ts";
import type { InteractionState } from "../state/InteractionStore.ts";
import { MessageFlag, type StoredMessage } from "../state/MessageStore.ts";
import type { SimState } from "../state/SimState.ts";
import type { ChannelState } from "../state/World.ts";
import { userWire } from "../state/wire.ts";
import type { Json } from "../types.ts";
import { clone, isObject } from "../util.ts";
import { validateMessageBody } from "./validateMessageBody.ts";

/** Discord's maximum request size when sending a message. */
export const MAX_REQUEST_BYTES = 25 * 1024 * 1024;

/** 413 40005 when a file is over the attachment size limit or the files together over 25 MiB; null when they fit. */
export function uploadTooLarge(files: UploadedFile[], limit: number): Reply | null {
  const total = files.reduce((n, f) => n + f.size, 0);
  return files.some((f) => f.size > limit) || total > MAX_REQUEST_BYTES ? errorReply(Errors.requestTooLarge()) : null;
}

/**
 * Stores uploaded files (`files[n]`) and returns their attachment objects. `meta` is the request's
 * `attachments` array: an entry whose `id` is `n` gives the file its filename/description/title;
 * with `onlyListed` (an edit that sent `attachments`) files without an entry are not attached.
 */
export function attachmentsFrom(
  state: SimState,
  files: UploadedFile[],
  channelId: string,
  messageId: string,
  opts: { meta?: unknown; onlyListed?: boolean; ephemeral?: boolean } = {},
): Json[] {
  const meta = Array.isArray(opts.meta) ? (opts.meta as unknown[]).filter(isObject) : [];
  const out: Json[] = [];
  for (const [i, f] of files.entries()) {
    const n = /^files\[(\d+)\]$/.exec(f.name)?.[1] ?? String(i);
    const m = meta.find((a) => String(a.id) === n);
    if (opts.onlyListed && !m) continue;
    const filename = typeof m?.filename === "string" && m.filename ? m.filename : f.filename;
    const description = typeof m?.description === "string" ? m.description : null;
    const id = state.nextId();
    const data = f.data ?? Buffer.alloc(0);
    const contentType =
      f.contentType && f.contentType !== "application/octet-stream" ? f.contentType : (contentTypeFor(filename) ?? f.contentType);
    state.files.put({
      id,
      channelId,
      messageId,
      filename,
      contentType,
      size: data.length,
      data,
      fill: null,
      fault: null,
      fromBot: true,
      description,
      time: Date.now(),
    });
    const url = FileStore.url(state.cdnBase, channelId, id, filename);
    const dims = pngSize(data);
    out.push({
      id,
      filename,
      ...(description !== null ? { description } : {}),
      ...(typeof m?.title === "string" ? { title: m.title } : {}),
      size: data.length,
      url,
      proxy_url: url.replace("/cdn/", "/media/"),
      content_type: contentType,
      ...(dims ? { width: dims.width, height: dims.height } : {}),
      ...(opts.ephemeral ? { ephemeral: true } : {}),
    });
  }
  return out;
}

/** Builds, stores and dispatches a message the bot (or its interaction webhook) sends. */
export function botMessage(
  state: SimState,
  ch: ChannelState,
  body: Json,
  r: ParsedRequest,
  extra: { interaction?: InteractionState; type?: number; flags?: number; reference?: StoredMessage } = {},
): StoredMessage {
  const { world, messages } = state;
  const id = state.nextId();
  const wire = messages.newWire(
    id,
    ch,
    world.users.get(world.botUser.id)!,
    typeof body.content === "string" ? body.content : "",
    ch.guildId,
  );
  wire.embeds = clone(Array.isArray(body.embeds) ? body.embeds : []);
  wire.components = clone(Array.isArray(body.components) ? body.components : []);
  wire.tts = body.tts === true;
  wire.attachments = attachmentsFrom(state, r.files, ch.id, id, {
    meta: body.attachments,
    ephemeral: typeof body.flags === "number" && (body.flags & MessageFlag.Ephemeral) !== 0,
  });
  const allowedFlags = 4 | 4096 | (1 << 15) | (extra.interaction ? MessageFlag.Ephemeral : 0);
  wire.flags = (typeof body.flags === "number" ? body.flags & allowedFlags : 0) | (extra.flags ?? 0);
  if (typeof body.nonce === "string" || typeof body.nonce === "number") wire.nonce = body.nonce;
  wire.type = extra.type ?? 0;
  if (extra.reference) {
    wire.type = 19;
    wire.message_reference = {
      type: 0,
      message_id: extra.reference.wire.id,
      channel_id: ch.id,
      ...(ch.guildId ? { guild_id: ch.guildId } : {}),
    };
  }
  const it = extra.interaction;
  if (it) {
    wire.webhook_id = state.applicationId;
    wire.application_id = state.applicationId;
    const user = userWire(world, it.userId);
    wire.interaction_metadata = {
      id: it.id,
      type: it.type,
      user,
      authorizing_integration_owners: it.payload.authorizing_integration_owners,
      ...(it.type === 2 ? { name: it.commandName, command_type: 1 } : { interacted_message_id: it.targetMessageId }),
    };
    if (it.type === 2) wire.interaction = { id: it.id, type: 2, name: it.commandName, user };
  }
  const allowed = "allowed_mentions" in body ? body.allowed_mentions : undefined;
  let repliedUserPing = extra.reference !== undefined;
  if (allowed !== undefined) repliedUserPing = isObject(allowed) && allowed.replied_user === true;
  messages.resolveBotMentions(wire, allowed, repliedUserPing);
  const ephemeral = ((wire.flags as number) & MessageFlag.Ephemeral) !== 0;
  const stored = messages.add(wire, {
    allowedMentions: allowed,
    repliedUserPing,
    ...(ephemeral && it ? { ephemeralFor: it.userId } : {}),
    ...(it ? { interactionId: it.id } : {}),
  });
  if (!ephemeral) state.dispatch("MESSAGE_CREATE", messages.gatewayMessage(id));
  return stored;
}

/** Validates and applies an edit by the bot (PATCH message, interaction update, webhook edit); dispatches MESSAGE_UPDATE. */
export function editBotMessage(state: SimState, m: StoredMessage, body: Json, r: ParsedRequest): Reply {
  const invalid = validateMessageBody(body, { mode: "edit", fileCount: r.files.length });
  if (invalid) return errorReply(invalid);
  const nextContent = "content" in body ? ((body.content as string | null) ?? "") : m.wire.content;
  const nextEmbeds = "embeds" in body ? ((body.embeds as unknown[] | null) ?? []) : (m.wire.embeds as unknown[]);
  const nextComponents = "components" in body ? ((body.components as unknown[] | null) ?? []) : (m.wire.components as unknown[]);
  const keptAttachments = Array.isArray(body.attachments) ? body.attachments.length : ((m.wire.attachments as unknown[]) ?? []).length;
  if (!nextContent && nextEmbeds.length === 0 && nextComponents.length === 0 && keptAttachments === 0 && r.files.length === 0) {
    return errorReply(Errors.emptyMessage());
  }
  // new files: with an `attachments` array only those listed in it (retained ones keep their place), else all are appended
  const added =
    r.files.length > 0
      ? attachmentsFrom(state, r.files, m.record.channelId, m.wire.id, {
          meta: body.attachments,
          onlyListed: Array.isArray(body.attachments),
          ephemeral: m.record.ephemeral,
        })
      : [];
  state.messages.applyEdit(m, body, true, added);
  if (!m.record.ephemeral) state.dispatch("MESSAGE_UPDATE", state.messages.gatewayMessage(m.wire.id));
  return { status: 200, body: state.messages.fullWire(m.wire.id) };
}
