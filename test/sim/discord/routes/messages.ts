/**
 * Message routes: `/channels/:channel/messages` (list, create), `/channels/:channel/messages/:message`
 * (get, edit, delete) and the bot's own reactions. Permissions are checked as Discord does (403
 * 50001 without View Channel, 50013 without Send/Read History/Manage Messages).
 */
import { type ApiErrorResponse, apiError, Errors, invalidFormBody } from "../discordErrors.ts";
import { withoutMessageContent } from "../gateway/gatewayView.ts";
import { errorReply, type ParsedRequest, type Reply, type Router } from "../http/Router.ts";
import type { StoredMessage, WireMessage } from "../state/MessageStore.ts";
import { Permission } from "../state/permissions.ts";
import type { SimState } from "../state/SimState.ts";
import { snowflakeTime } from "../state/snowflake.ts";
import { isObject } from "../util.ts";
import { botMessage, editBotMessage } from "./botMessages.ts";
import { validateMessageBody } from "./validateMessageBody.ts";

export function messageRoutes(router: Router, state: SimState): void {
  router.add("GET", "/channels/:channel/messages", (r, [c]) => listMessages(state, r, c!));
  router.add("POST", "/channels/:channel/messages", (r, [c]) => createMessage(state, r, c!));
  router.add("POST", "/channels/:channel/messages/bulk-delete", (r, [c]) => bulkDelete(state, r, c!));
  router.add("GET", "/channels/:channel/messages/:message", (_r, [c, m]) => getMessage(state, c!, m!));
  router.add("PATCH", "/channels/:channel/messages/:message", (r, [c, m]) => editMessage(state, r, c!, m!));
  router.add("DELETE", "/channels/:channel/messages/:message", (_r, [c, m]) => removeMessage(state, c!, m!));
  router.add("PUT", "/channels/:channel/messages/:message/reactions/:emoji/@me", (_r, [c, m, e]) => {
    const msg = state.messages.get(m!);
    if (!state.world.channels.has(c!)) return errorReply(Errors.unknownChannel());
    if (!msg || msg.record.channelId !== c || msg.record.deleted) return errorReply(Errors.unknownMessage());
    state.reactions.push({ channelId: c!, messageId: m!, emoji: e!, time: Date.now() });
    return { status: 204 };
  });
  router.add("DELETE", "/channels/:channel/messages/:message/reactions/:emoji/@me", () => ({ status: 204 }));
}

function listMessages(state: SimState, r: ParsedRequest, channelId: string): Reply {
  const ch = state.world.channels.get(channelId);
  if (!ch) return errorReply(Errors.unknownChannel());
  const perms = state.world.botPermissions(ch);
  if ((perms & Permission.ViewChannel) === 0n) return errorReply(Errors.missingAccess());
  if ((perms & Permission.ReadMessageHistory) === 0n) return { status: 200, body: [] };
  const limit = Math.min(100, Math.max(1, Number(r.query.get("limit") ?? 50)));
  let ids = ch.messageIds.filter((id) => {
    const m = state.messages.get(id)!;
    return !m.record.deleted && !m.record.ephemeral;
  });
  const before = r.query.get("before");
  const after = r.query.get("after");
  if (before) ids = ids.filter((id) => BigInt(id) < BigInt(before));
  if (after) ids = ids.filter((id) => BigInt(id) > BigInt(after));
  const picked = after ? ids.slice(0, limit) : ids.slice(-limit);
  return { status: 200, body: picked.reverse().map((id) => restMessage(state, id)) };
}

function getMessage(state: SimState, channelId: string, messageId: string): Reply {
  const ch = state.world.channels.get(channelId);
  if (!ch) return errorReply(Errors.unknownChannel());
  const perms = state.world.botPermissions(ch);
  // without View Channel or Read Message History the message is out of reach: 403 Missing Access
  if ((perms & Permission.ViewChannel) === 0n || (perms & Permission.ReadMessageHistory) === 0n) return errorReply(Errors.missingAccess());
  const m = state.messages.get(messageId);
  if (!m || m.record.channelId !== channelId || m.record.deleted || m.record.ephemeral) return errorReply(Errors.unknownMessage());
  return { status: 200, body: restMessage(state, messageId) };
}

/** A message as a REST read returns it: without content unless the app has Message Content access (or the usual exceptions). */
function restMessage(state: SimState, id: string): WireMessage {
  const wire = state.messages.fullWire(id);
  return state.messageContentAllowed ? wire : (withoutMessageContent(state.world.botUser.id, wire) as WireMessage);
}

function createMessage(state: SimState, r: ParsedRequest, channelId: string): Reply {
  const ch = state.world.channels.get(channelId);
  if (!ch) return errorReply(Errors.unknownChannel());
  if (ch.type === 2 || ch.type === 4) return errorReply(apiError(400, 50008, "Cannot send messages in a non-text channel"));
  const denied = state.world.sendDenial(ch);
  if (denied) return errorReply(denied);
  if (r.files.length > 0 && ch.guildId && (state.world.botPermissions(ch) & Permission.AttachFiles) === 0n)
    return errorReply(Errors.missingPermissions());
  const body = isObject(r.body) ? r.body : {};
  const invalid = validateMessageBody(body, { mode: "create", fileCount: r.files.length }) ?? validateNonce(body.nonce);
  if (invalid) return errorReply(invalid);
  const nonce = typeof body.nonce === "string" || typeof body.nonce === "number" ? body.nonce : undefined;
  if (nonce !== undefined && body.enforce_nonce === true) {
    const botId = state.world.botUser.id;
    const prior = state.nonces.find(botId, nonce);
    const existing = prior ? state.messages.get(prior) : undefined;
    if (existing && !existing.record.deleted) {
      state.nonces.hits.push({ nonce: String(nonce), authorId: botId, channelId, messageId: existing.wire.id, time: Date.now() });
      return { status: 200, body: state.messages.fullWire(existing.wire.id) };
    }
  }
  let reference: StoredMessage | undefined;
  const ref = body.message_reference;
  if (isObject(ref) && ref.type !== 1) {
    if ((state.world.botPermissions(ch) & Permission.ReadMessageHistory) === 0n) return errorReply(Errors.missingPermissions());
    const target = typeof ref.message_id === "string" ? state.messages.get(ref.message_id) : undefined;
    const sameChannel = target && !target.record.deleted && !target.record.ephemeral && target.record.channelId === ch.id;
    const refChannelOk = ref.channel_id === undefined || ref.channel_id === ch.id;
    if (!sameChannel || !refChannelOk) {
      if (ref.fail_if_not_exists === false) reference = undefined;
      else return errorReply(invalidFormBody(["message_reference"], "REPLIES_UNKNOWN_MESSAGE", "Unknown message"));
    } else {
      reference = target;
    }
  }
  const stored = botMessage(state, ch, body, r, reference ? { reference } : {});
  if (nonce !== undefined) state.nonces.remember(state.world.botUser.id, nonce, stored.wire.id);
  return { status: 200, body: state.messages.fullWire(stored.wire.id) };
}

/** `nonce`: an integer or a string of up to 25 characters. */
function validateNonce(nonce: unknown): ApiErrorResponse | null {
  if (nonce === undefined || nonce === null) return null;
  if (typeof nonce === "string") {
    return nonce.length > 25 ? invalidFormBody(["nonce"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.") : null;
  }
  if (typeof nonce === "number" && Number.isSafeInteger(nonce)) return null;
  return invalidFormBody(["nonce"], "NONCE_TYPE_INVALID", "Nonce must be an integer or a string.");
}

function editMessage(state: SimState, r: ParsedRequest, channelId: string, messageId: string): Reply {
  const ch = state.world.channels.get(channelId);
  if (!ch) return errorReply(Errors.unknownChannel());
  if (ch.guildId && (state.world.botPermissions(ch) & Permission.ViewChannel) === 0n) return errorReply(Errors.missingAccess());
  const m = state.messages.get(messageId);
  if (!m || m.record.channelId !== channelId || m.record.deleted || m.record.ephemeral) return errorReply(Errors.unknownMessage());
  const body = isObject(r.body) ? r.body : {};
  if (m.record.authorId !== state.world.botUser.id) {
    const onlyFlags = Object.keys(body).every((k) => k === "flags");
    if (!onlyFlags) return errorReply(Errors.cannotEditOthers());
  }
  // New files in an edit need Attach Files, as on create.
  if (r.files.length > 0 && ch.guildId && (state.world.botPermissions(ch) & Permission.AttachFiles) === 0n)
    return errorReply(Errors.missingPermissions());
  return editBotMessage(state, m, body, r);
}

/** POST /channels/:c/messages/bulk-delete: guild channels, Manage Messages, 2–100 ids, none older than two weeks. */
function bulkDelete(state: SimState, r: ParsedRequest, channelId: string): Reply {
  const ch = state.world.channels.get(channelId);
  if (!ch) return errorReply(Errors.unknownChannel());
  if (!ch.guildId) return errorReply(Errors.cannotExecuteOnDm());
  const perms = state.world.botPermissions(ch);
  if ((perms & Permission.ViewChannel) === 0n) return errorReply(Errors.missingAccess());
  if ((perms & Permission.ManageMessages) === 0n) return errorReply(Errors.missingPermissions());
  const body = isObject(r.body) ? r.body : {};
  const ids = Array.isArray(body.messages) ? body.messages.map((x) => String(x)) : null;
  if (!ids) return errorReply(invalidFormBody(["messages"], "BASE_TYPE_REQUIRED", "This field is required"));
  if (ids.length < 2 || ids.length > 100) return errorReply(Errors.bulkDeleteCount());
  if (new Set(ids).size !== ids.length)
    return errorReply(invalidFormBody(["messages"], "BASE_TYPE_DUPLICATES", "Duplicate message ids are not allowed."));
  const twoWeeksAgo = Date.now() - 14 * 24 * 3600 * 1000;
  if (ids.some((id) => /^\d+$/.test(id) && snowflakeTime(id) < twoWeeksAgo)) return errorReply(Errors.bulkDeleteTooOld());
  const present = ids.filter((id) => {
    const m = state.messages.get(id);
    return m && m.record.channelId === channelId && !m.record.deleted && !m.record.ephemeral;
  });
  state.messages.removeBulk(channelId, present);
  return { status: 204 };
}

function removeMessage(state: SimState, channelId: string, messageId: string): Reply {
  const ch = state.world.channels.get(channelId);
  if (!ch) return errorReply(Errors.unknownChannel());
  const m = state.messages.get(messageId);
  if (!m || m.record.channelId !== channelId || m.record.deleted || m.record.ephemeral) return errorReply(Errors.unknownMessage());
  if (m.record.authorId !== state.world.botUser.id && (state.world.botPermissions(ch) & Permission.ManageMessages) === 0n)
    return errorReply(Errors.missingPermissions());
  state.messages.remove(m);
  return { status: 204 };
}
