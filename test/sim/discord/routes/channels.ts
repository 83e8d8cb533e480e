/**
 * Channel routes: GET `/channels/:channel`, typing (`POST /channels/:channel/typing`, recorded in
 * `typing`), starting threads (from a message or on their own) and joining them. Messages in a
 * channel are in messages.ts.
 */
import { apiError, Errors, invalidFormBody } from "../discordErrors.ts";
import { errorReply, json, type ParsedRequest, type Reply, type Router } from "../http/Router.ts";
import { MessageFlag, type StoredMessage } from "../state/MessageStore.ts";
import { Permission } from "../state/permissions.ts";
import type { SimState } from "../state/SimState.ts";
import { channelWire } from "../state/wire.ts";
import { isObject } from "../util.ts";

export function channelRoutes(router: Router, state: SimState): void {
  const { world } = state;
  router.add("GET", "/channels/:channel", (_r, [c]) => {
    const ch = world.channels.get(c!);
    if (!ch) return errorReply(Errors.unknownChannel());
    if ((world.botPermissions(ch) & Permission.ViewChannel) === 0n) return errorReply(Errors.missingAccess());
    return json(channelWire(world, ch));
  });
  router.add("POST", "/channels/:channel/typing", (_r, [c]) => {
    const ch = world.channels.get(c!);
    if (!ch) return errorReply(Errors.unknownChannel());
    const denied = world.sendDenial(ch);
    if (denied) return errorReply(denied);
    state.typing.push({ channelId: ch.id, time: Date.now() });
    return { status: 204 };
  });
  router.add("POST", "/channels/:channel/messages/:message/threads", (r, [c, m]) => startThread(state, r, c!, m!));
  router.add("POST", "/channels/:channel/threads", (r, [c]) => startThread(state, r, c!, null));
  router.add("PUT", "/channels/:channel/thread-members/@me", (_r, [c]) =>
    world.channels.has(c!) ? { status: 204 } : errorReply(Errors.unknownChannel()),
  );
}

function startThread(state: SimState, r: ParsedRequest, channelId: string, messageId: string | null): Reply {
  const { world } = state;
  const parent = world.channels.get(channelId);
  if (!parent) return errorReply(Errors.unknownChannel());
  if (!parent.guildId || !(parent.type === 0 || parent.type === 5))
    return errorReply(apiError(400, 50024, "Cannot execute action on this channel type"));
  const body = isObject(r.body) ? r.body : {};
  const name = typeof body.name === "string" ? body.name : "";
  if (name.length < 1 || name.length > 100)
    return errorReply(invalidFormBody(["name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."));
  const auto = body.auto_archive_duration;
  if (auto !== undefined && ![60, 1440, 4320, 10080].includes(Number(auto)))
    return errorReply(invalidFormBody(["auto_archive_duration"], "BASE_TYPE_CHOICES", "Value must be one of {60, 1440, 4320, 10080}."));
  let type = messageId ? (parent.type === 5 ? 10 : 11) : typeof body.type === "number" ? body.type : 12;
  if (!messageId && ![10, 11, 12].includes(type))
    return errorReply(invalidFormBody(["type"], "BASE_TYPE_CHOICES", "Value must be one of {10, 11, 12}."));
  if (!messageId && parent.type === 5) type = 10;
  const perms = world.botPermissions(parent);
  if ((perms & Permission.ViewChannel) === 0n) return errorReply(Errors.missingAccess());
  if ((perms & (type === 12 ? Permission.CreatePrivateThreads : Permission.CreatePublicThreads)) === 0n)
    return errorReply(Errors.missingPermissions());
  let starter: StoredMessage | undefined;
  if (messageId) {
    starter = state.messages.get(messageId);
    if (!starter || starter.record.channelId !== channelId || starter.record.deleted || starter.record.ephemeral)
      return errorReply(Errors.unknownMessage());
    if (starter.record.threadId) return errorReply(Errors.threadAlreadyCreated());
  }
  const guild = world.requireGuild(parent.guildId);
  // a thread started from a message takes the message's id, as on Discord
  const id = messageId ?? state.nextId();
  const thread = world.putChannel(guild, { id, name, type, parent_id: parent.id }, 0, world.botUser.id);
  if (auto !== undefined) thread.autoArchiveDuration = Number(auto);
  if (starter) {
    starter.record.threadId = id;
    starter.wire.flags = Number(starter.wire.flags ?? 0) | MessageFlag.HasThread;
    starter.record.flags = Number(starter.wire.flags);
    starter.wire.thread = channelWire(world, thread);
  }
  const wire = channelWire(world, thread);
  state.dispatch("THREAD_CREATE", { ...wire, newly_created: true });
  return { status: 201, body: wire };
}
