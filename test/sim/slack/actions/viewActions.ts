/**
 * What a user does with a modal the app opened: submit it (`view_submission`, with the input values
 * in `view.state.values`; the app's ack may answer `response_action` errors / update / push / clear)
 * or close it (`view_closed`, sent only when the view has `notify_on_close`).
 */
import type { SimEnvelope } from "../delivery/SimEnvelope.ts";
import type { EventSender } from "../events/EventSender.ts";
import { viewShape } from "../methods/views.ts";
import type { SlackState } from "../state/SlackState.ts";
import type { SimView } from "../types.ts";
import { newTriggerId } from "../util.ts";

/**
 * Input values by block_id then action_id: a string is a plain_text_input's value; an object is put
 * as is (e.g. `{ type: "static_select", selected_option: { value: "x", text: {...} } }`).
 */
export type ViewValues = Record<string, Record<string, string | Record<string, unknown>>>;

function openView(state: SlackState, teamId: string, viewId: string): SimView {
  const record = state.views.views.get(viewId);
  if (!record || record.teamId !== teamId || record.closed) throw new Error(`SlackSimulator: no open view ${viewId} in ${teamId}`);
  return record;
}

function userField(state: SlackState, teamId: string, userId: string): Record<string, unknown> {
  const team = state.team(teamId);
  const user = team.users.get(userId);
  return { id: userId, username: user?.name ?? userId.toLowerCase(), name: user?.name ?? userId.toLowerCase(), team_id: teamId };
}

export function submitView(
  state: SlackState,
  events: EventSender,
  teamId: string,
  input: { viewId: string; values?: ViewValues },
): SimEnvelope {
  const record = openView(state, teamId, input.viewId);
  const values: Record<string, Record<string, unknown>> = {};
  for (const [blockId, actions] of Object.entries(input.values ?? {})) {
    values[blockId] = {};
    for (const [actionId, value] of Object.entries(actions)) {
      (values[blockId] as Record<string, unknown>)[actionId] = typeof value === "string" ? { type: "plain_text_input", value } : value;
    }
  }
  const team = state.team(teamId);
  const triggerId = newTriggerId();
  state.views.addTrigger(triggerId, teamId, record.user);
  return events.sendRawInteractive(teamId, {
    type: "view_submission",
    team: { id: team.id, domain: team.domain },
    user: userField(state, teamId, record.user),
    api_app_id: state.appId,
    token: state.verificationToken,
    trigger_id: triggerId,
    view: { ...viewShape(state, record), state: { values } },
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  });
}

/** The user closes the modal: it is gone; `view_closed` is sent when the view asked (notify_on_close). */
export function closeView(state: SlackState, events: EventSender, teamId: string, viewId: string): SimEnvelope | undefined {
  const record = openView(state, teamId, viewId);
  record.closed = true;
  if (record.view.notify_on_close !== true) return undefined;
  const team = state.team(teamId);
  return events.sendRawInteractive(teamId, {
    type: "view_closed",
    team: { id: team.id, domain: team.domain },
    user: userField(state, teamId, record.user),
    api_app_id: state.appId,
    token: state.verificationToken,
    view: viewShape(state, record),
    is_cleared: false,
    is_enterprise_install: false,
    enterprise: null,
  });
}
