/**
 * Interaction response routes: the initial callback (`POST /interactions/:id/:token/callback`,
 * within `interactionAckTimeoutMs`, once) and the webhook routes that follow it (follow-ups,
 * GET/PATCH/DELETE of `@original` or a follow-up). Every call is recorded in `interactionResponses`.
 */
import { type ApiErrorResponse, apiError, Errors, invalidFormBody } from "../discordErrors.ts";
import { errorReply, type ParsedRequest, type Reply, type Router } from "../http/Router.ts";
import type { InteractionState } from "../state/InteractionStore.ts";
import { MessageFlag, type StoredMessage } from "../state/MessageStore.ts";
import type { SimState } from "../state/SimState.ts";
import type { InteractionResponseRecord, Json } from "../types.ts";
import { clone, isObject } from "../util.ts";
import { botMessage, editBotMessage } from "./botMessages.ts";
import { validateChoiceList } from "./validateCommand.ts";
import { validateMessageBody } from "./validateMessageBody.ts";

export function interactionRoutes(router: Router, state: SimState): void {
  router.add("POST", "/interactions/:id/:token/callback", (r, [id, token]) => callback(state, r, id!, token!));
  router.add("POST", "/webhooks/:app/:token", (r, [app, token]) => followup(state, r, app!, token!));
  router.add("GET", "/webhooks/:app/:token/messages/:message", (_r, [app, token, m]) =>
    webhookMessage(state, "GET", null, app!, token!, m!),
  );
  router.add("PATCH", "/webhooks/:app/:token/messages/:message", (r, [app, token, m]) =>
    webhookMessage(state, "PATCH", r, app!, token!, m!),
  );
  router.add("DELETE", "/webhooks/:app/:token/messages/:message", (_r, [app, token, m]) =>
    webhookMessage(state, "DELETE", null, app!, token!, m!),
  );
}

/** Records the call in `interactionResponses` and returns `reply` unchanged. */
function recordResponse(
  state: SimState,
  it: InteractionState | null,
  tokenOrId: { id: string; token: string },
  kind: InteractionResponseRecord["kind"],
  r: ParsedRequest | null,
  reply: Reply,
  messageId: string | null,
  type: number | null,
): Reply {
  const body = r && isObject(r.body) ? r.body : {};
  const data = kind === "callback" ? (isObject(body.data) ? body.data : {}) : body;
  const flags = typeof data.flags === "number" ? data.flags : 0;
  const msg = messageId ? state.messages.get(messageId) : undefined;
  state.interactionResponses.push({
    interactionId: it?.id ?? tokenOrId.id,
    token: tokenOrId.token,
    kind,
    type,
    ephemeral: msg ? msg.record.ephemeral : (flags & MessageFlag.Ephemeral) !== 0,
    content: typeof data.content === "string" ? data.content : null,
    components: Array.isArray(data.components) ? clone(data.components) : null,
    flags,
    messageId,
    status: reply.status,
    body: clone(r?.body ?? null),
    time: Date.now(),
  });
  return reply;
}

function callback(state: SimState, r: ParsedRequest, id: string, token: string): Reply {
  const it = state.interactions.get(id);
  const ids = { id, token };
  const body = isObject(r.body) ? r.body : {};
  const type = typeof body.type === "number" ? body.type : null;
  const fail = (reply: Reply) => recordResponse(state, it ?? null, ids, "callback", r, reply, null, type);
  if (!it || it.token !== token || Date.now() - it.createdAt > state.interactionAckTimeoutMs) {
    return fail(errorReply(Errors.unknownInteraction()));
  }
  if (it.acked) return fail(errorReply(Errors.alreadyAcknowledged()));
  const data = isObject(body.data) ? body.data : {};
  const ch = state.world.requireChannel(it.channelId);
  const allowed = ALLOWED_CALLBACKS[it.type];
  if (
    type !== null &&
    allowed &&
    KNOWN_CALLBACKS.includes(type) &&
    !allowed.includes(type) &&
    !(it.type === 2 && (type === 6 || type === 7))
  ) {
    return fail(errorReply(invalidFormBody(["type"], "BASE_TYPE_CHOICES", `Value must be one of {${allowed.join(", ")}}.`)));
  }
  let messageId: string | null = null;
  switch (type) {
    case 4: {
      const invalid = validateMessageBody(data, { mode: "create", interaction: true, fileCount: r.files.length });
      if (invalid) return fail(errorReply(invalid));
      const stored = botMessage(state, ch, data, r, { interaction: it, type: it.type === 2 ? 20 : 0 });
      messageId = stored.wire.id;
      it.originalMessageId = messageId;
      break;
    }
    case 5: {
      const ephemeral = typeof data.flags === "number" ? data.flags & MessageFlag.Ephemeral : 0;
      const stored = botMessage(state, ch, { content: "", flags: ephemeral }, r, {
        interaction: it,
        type: it.type === 2 ? 20 : 0,
        flags: MessageFlag.Loading,
      });
      messageId = stored.wire.id;
      it.originalMessageId = messageId;
      break;
    }
    case 6:
    case 7: {
      if ((it.type !== 3 && it.type !== 5) || !it.targetMessageId) {
        return fail(errorReply(apiError(400, 40043, "Interaction response type is not valid for this interaction")));
      }
      const target = state.messages.get(it.targetMessageId);
      if (!target || target.record.deleted) return fail(errorReply(Errors.unknownMessage()));
      if (type === 7) {
        const edited = editBotMessage(state, target, data, r);
        if (edited.status !== 200) return fail(edited);
      }
      messageId = target.wire.id;
      it.originalMessageId = messageId;
      break;
    }
    case 8: {
      const choices = Array.isArray(data.choices) ? data.choices : null;
      if (!choices) return fail(errorReply(invalidFormBody(["data", "choices"], "BASE_TYPE_REQUIRED", "This field is required")));
      if (choices.length > 25)
        return fail(errorReply(invalidFormBody(["data", "choices"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")));
      const invalid = validateChoiceList(choices, 0, ["data", "choices"]);
      if (invalid) return fail(errorReply(invalid));
      it.choices = clone(choices);
      break;
    }
    case 9: {
      const invalid = validateModal(data);
      if (invalid) return fail(errorReply(invalid));
      it.modal = clone(data);
      break;
    }
    case 12:
      break;
    default:
      return fail(errorReply(invalidFormBody(["type"], "BASE_TYPE_CHOICES", "Value must be one of {1, 4, 5, 6, 7, 8, 9, 10, 12}.")));
  }
  it.acked = true;
  it.callbackType = type;
  let reply: Reply = { status: 204 };
  if (r.query.get("with_response") === "true") {
    const msg = messageId ? state.messages.get(messageId) : undefined;
    reply = {
      status: 200,
      body: {
        interaction: {
          id: it.id,
          type: it.type,
          response_message_id: messageId ?? undefined,
          response_message_loading: type === 5,
          response_message_ephemeral: msg?.record.ephemeral ?? false,
        },
        resource: { type, ...(messageId ? { message: state.messages.fullWire(messageId) } : {}) },
      },
    };
  }
  return recordResponse(state, it, ids, "callback", r, reply, messageId, type);
}

/** Callback types each interaction type accepts (2 command, 3 component, 4 autocomplete, 5 modal submit). */
const ALLOWED_CALLBACKS: Record<number, number[]> = { 2: [4, 5, 9], 3: [4, 5, 6, 7, 9], 4: [8], 5: [4, 5, 6, 7] };
const KNOWN_CALLBACKS = [4, 5, 6, 7, 8, 9];

/** A modal (type 9 callback data): custom_id 1–100, title 1–45, 1–5 components (action rows or labels). */
function validateModal(data: Json): ApiErrorResponse | null {
  const customId = typeof data.custom_id === "string" ? data.custom_id : "";
  if (customId.length < 1 || customId.length > 100)
    return invalidFormBody(["data", "custom_id"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.");
  const title = typeof data.title === "string" ? data.title : "";
  if (title.length < 1 || title.length > 45)
    return invalidFormBody(["data", "title"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 45 in length.");
  const components = Array.isArray(data.components) ? data.components : [];
  if (components.length < 1 || components.length > 5)
    return invalidFormBody(["data", "components"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.");
  return null;
}

function followup(state: SimState, r: ParsedRequest, app: string, token: string): Reply {
  const found = state.interactions.forWebhook(app, token, state.applicationId);
  const ids = { id: "", token };
  if (!("token" in found)) return recordResponse(state, null, ids, "followup", r, errorReply(found), null, null);
  const it = found;
  const fail = (reply: Reply) => recordResponse(state, it, ids, "followup", r, reply, null, null);
  if (!it.acked) return fail(errorReply(Errors.unknownWebhook()));
  const body = isObject(r.body) ? r.body : {};
  const invalid = validateMessageBody(body, { mode: "create", interaction: true, fileCount: r.files.length });
  if (invalid) return fail(errorReply(invalid));
  const ch = state.world.requireChannel(it.channelId);
  // the first followup to a deferred response fills in the loading message, as Discord does
  const original = it.originalMessageId ? state.messages.get(it.originalMessageId) : undefined;
  let stored: StoredMessage;
  if (it.callbackType === 5 && original && (original.record.flags & MessageFlag.Loading) !== 0) {
    const edited = editBotMessage(state, original, body, r);
    if (edited.status !== 200) return fail(edited);
    stored = original;
  } else {
    stored = botMessage(state, ch, body, r, { interaction: it, type: 0 });
  }
  const wait = r.query.get("wait") === "true";
  const reply: Reply = wait ? { status: 200, body: state.messages.fullWire(stored.wire.id) } : { status: 204 };
  return recordResponse(state, it, ids, "followup", r, reply, stored.wire.id, null);
}

function webhookMessage(
  state: SimState,
  method: "GET" | "PATCH" | "DELETE",
  r: ParsedRequest | null,
  app: string,
  token: string,
  messageRef: string,
): Reply {
  const found = state.interactions.forWebhook(app, token, state.applicationId);
  const original = messageRef === "@original";
  const kind: InteractionResponseRecord["kind"] =
    method === "PATCH"
      ? original
        ? "editOriginal"
        : "editFollowup"
      : method === "DELETE"
        ? original
          ? "deleteOriginal"
          : "deleteFollowup"
        : "editOriginal";
  const ids = { id: "", token };
  const record = (it: InteractionState | null, reply: Reply, messageId: string | null) =>
    method === "GET" ? reply : recordResponse(state, it, ids, kind, r, reply, messageId, null);
  if (!("token" in found)) return record(null, errorReply(found), null);
  const it = found;
  const messageId = original ? it.originalMessageId : messageRef;
  const m = messageId ? state.messages.get(messageId) : undefined;
  if (!m || m.record.deleted || (m.record.interactionId !== it.id && messageId !== it.targetMessageId))
    return record(it, errorReply(Errors.unknownMessage()), null);
  if (method === "GET") return { status: 200, body: state.messages.fullWire(m.wire.id) };
  if (method === "DELETE") {
    state.messages.remove(m);
    return record(it, { status: 204 }, m.wire.id);
  }
  const body = r && isObject(r.body) ? r.body : {};
  const edited = editBotMessage(state, m, body, r ?? { method, path: "", query: new URLSearchParams(), body: {}, files: [], auth: null });
  return record(it, edited, edited.status === 200 ? m.wire.id : null);
}
