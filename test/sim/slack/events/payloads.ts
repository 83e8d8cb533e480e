/**
 * The payloads Slack sends an app, as it builds them: the event_callback around an event, a slash
 * command's fields, and an interactive (block_actions) payload; the last two come with a fresh
 * response_url and trigger_id (remembered, so views.open can check it).
 */
import type { ResponseUrls, ResponseUrlTarget } from "../http/ResponseUrls.ts";
import type { SlackState } from "../state/SlackState.ts";
import type { SlashCommandInput } from "../types.ts";
import { asString, newTriggerId, randomId } from "../util.ts";

/** The event_callback body Slack would send for `event`. */
export function buildEventPayload(
  state: SlackState,
  teamId: string,
  event: Record<string, unknown>,
  eventId?: string,
  eventTime?: number,
): Record<string, unknown> {
  const team = state.team(teamId);
  const eventTs = asString(event.event_ts) ?? asString(event.ts) ?? state.nextTs();
  return {
    token: state.verificationToken,
    team_id: team.id,
    context_team_id: team.id,
    context_enterprise_id: null,
    api_app_id: state.appId,
    event: { ...event, event_ts: eventTs },
    type: "event_callback",
    event_id: eventId ?? randomId("Ev0"),
    event_time: eventTime ?? Math.floor(Date.now() / 1000),
    authorizations: [{ enterprise_id: null, team_id: team.id, user_id: team.botUserId, is_bot: true, is_enterprise_install: false }],
    is_ext_shared_channel: false,
    event_context: randomId("4-", 12).toLowerCase(),
  };
}

/** The fields of a slash command as Slack sends them, with a fresh response_url and trigger_id. */
export function buildSlashCommandPayload(
  state: SlackState,
  responseUrls: ResponseUrls,
  teamId: string,
  command: SlashCommandInput,
): Record<string, unknown> {
  const team = state.team(teamId);
  const userId = command.user_id ?? "U0USER1";
  const channelId = command.channel_id ?? "C0GENERAL";
  state.workspaces.ensureUser(team, userId, command.user_name);
  state.workspaces.ensureChannel(team, channelId, command.channel_name);
  const user = team.users.get(userId);
  const channel = team.channels.get(channelId);
  const responseUrl = responseUrls.create({ teamId, channel: channelId, userId });
  const payload: Record<string, unknown> = {
    token: state.verificationToken,
    team_id: team.id,
    team_domain: team.domain,
    channel_id: channelId,
    channel_name: channel?.name ?? channelId.toLowerCase(),
    user_id: userId,
    user_name: user?.name ?? userId.toLowerCase(),
    api_app_id: state.appId,
    is_enterprise_install: "false",
    response_url: responseUrl,
    trigger_id: newTriggerId(),
    ...command,
    text: command.text ?? "",
  };
  state.views.addTrigger(String(payload.trigger_id), teamId, userId);
  return payload;
}

/** An interactive payload as Slack sends it: defaults, then `payload` over them. */
export function buildInteractivePayload(
  state: SlackState,
  responseUrls: ResponseUrls,
  teamId: string,
  payload: Record<string, unknown>,
): Record<string, unknown> {
  const team = state.team(teamId);
  const container = (payload.container ?? {}) as Record<string, unknown>;
  const channelField = payload.channel as Record<string, unknown> | undefined;
  const channelId = asString(container.channel_id) ?? asString(channelField?.id) ?? "C0GENERAL";
  const userField = payload.user as Record<string, unknown> | undefined;
  const userId = asString(userField?.id) ?? "U0USER1";
  state.workspaces.ensureUser(team, userId);
  state.workspaces.ensureChannel(team, channelId);
  const messageTs = asString(container.message_ts);
  const stored = messageTs !== undefined ? state.messages.find(team, channelId, messageTs) : undefined;
  const target: ResponseUrlTarget = { teamId, channel: channelId, userId };
  if (messageTs !== undefined) target.messageTs = messageTs;
  if (stored?.threadTs !== undefined) target.threadTs = stored.threadTs;
  const user = team.users.get(userId);
  const defaults: Record<string, unknown> = {
    type: "block_actions",
    user: { id: userId, username: user?.name ?? userId.toLowerCase(), name: user?.name ?? userId.toLowerCase(), team_id: team.id },
    api_app_id: state.appId,
    token: state.verificationToken,
    container: {
      type: "message",
      channel_id: channelId,
      is_ephemeral: false,
      ...(messageTs !== undefined ? { message_ts: messageTs } : {}),
      ...(stored?.threadTs !== undefined ? { thread_ts: stored.threadTs } : {}),
      ...container,
    },
    trigger_id: newTriggerId(),
    team: { id: team.id, domain: team.domain },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: channelId, name: team.channels.get(channelId)?.name ?? channelId.toLowerCase() },
    state: { values: {} },
    response_url: responseUrls.create(target),
    actions: [],
  };
  if (stored) defaults.message = state.shape(stored, team);
  const full: Record<string, unknown> = { ...defaults, ...payload, container: defaults.container };
  state.views.addTrigger(String(full.trigger_id), teamId, userId);
  return full;
}
