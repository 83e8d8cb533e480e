/**
 * What a user does in the AI app split view (the assistant container): opening it starts a thread in
 * their DM with the app — a root message of subtype `assistant_app_thread` and the
 * `assistant_thread_started` event (user_id, context, channel_id, thread_ts) — and moving to another
 * channel while it is open sends `assistant_thread_context_changed`. Questions in the thread are
 * plain `userMessage`s in the DM with `threadTs` (channel_type "im", as Slack sends them).
 */
import type { SimEnvelope } from "../delivery/SimEnvelope.ts";
import type { EventSender } from "../events/EventSender.ts";
import type { SlackState } from "../state/SlackState.ts";

/** What the user was looking at when the container opened (or moved to). */
export interface AssistantContextInput {
  channelId: string;
  /** default: the workspace */
  teamId?: string;
  enterpriseId?: string;
}

export interface OpenAssistantInput {
  user: string;
  /** The DM between the user and the app (default `D` + the user id). */
  channel?: string;
  context?: AssistantContextInput;
}

export interface AssistantThreadResult {
  channel: string;
  threadTs: string;
  event: SimEnvelope;
}

function contextObject(teamId: string, context: AssistantContextInput | undefined): Record<string, unknown> {
  if (!context) return {};
  return {
    channel_id: context.channelId,
    team_id: context.teamId ?? teamId,
    ...(context.enterpriseId !== undefined ? { enterprise_id: context.enterpriseId } : {}),
  };
}

export function openAssistantThread(
  state: SlackState,
  events: EventSender,
  teamId: string,
  input: OpenAssistantInput,
): AssistantThreadResult {
  const team = state.team(teamId);
  const channel = input.channel ?? `D${input.user}`;
  state.workspaces.ensureUser(team, input.user);
  if (!team.channels.has(channel)) state.workspaces.addChannel(teamId, { id: channel, type: "im", user: input.user });
  const title = `Chats from ${new Date().toISOString()}`;
  const root = state.messages.storeUser(team, {
    channel,
    user: input.user,
    text: title,
    subtype: "assistant_app_thread",
    channelType: "im",
  });
  root.assistantAppThread = { title };
  state.assistant.get(team.id, channel, root.ts, input.user);
  const event = events.sendEvent(teamId, {
    type: "assistant_thread_started",
    assistant_thread: {
      user_id: input.user,
      context: contextObject(team.id, input.context),
      channel_id: channel,
      thread_ts: root.ts,
    },
    event_ts: state.nextTs(),
  });
  return { channel, threadTs: root.ts, event };
}

export function changeAssistantContext(
  state: SlackState,
  events: EventSender,
  teamId: string,
  input: { user: string; channel: string; threadTs: string; context: AssistantContextInput },
): SimEnvelope {
  const team = state.team(teamId);
  return events.sendEvent(teamId, {
    type: "assistant_thread_context_changed",
    assistant_thread: {
      user_id: input.user,
      context: contextObject(team.id, input.context),
      channel_id: input.channel,
      thread_ts: input.threadTs,
    },
    event_ts: state.nextTs(),
  });
}
