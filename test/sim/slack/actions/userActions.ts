/**
 * What a test makes a user do: mention the bot (stored message + `app_mention`, and the plain
 * `message` event Slack also sends), post a message (or another bot's), click a button on a message.
 */
import type { SimEnvelope } from "../delivery/SimEnvelope.ts";
import type { EventSender } from "../events/EventSender.ts";
import type { SlackState } from "../state/SlackState.ts";
import type { ClickButtonInput, UserMentionInput, UserMessageInput } from "../types.ts";
import { asArray, asString, blockText } from "../util.ts";

export interface UserMentionResult {
  ts: string;
  threadTs?: string;
  event: SimEnvelope;
  messageEvent?: SimEnvelope;
}

export function userMentions(state: SlackState, events: EventSender, teamId: string, input: UserMentionInput): UserMentionResult {
  const team = state.team(teamId);
  const mention = `<@${team.botUserId}>`;
  const text = input.text.includes(mention) ? input.text : `${mention} ${input.text}`;
  const stored = state.messages.storeUser(team, { ...input, text });
  const event: Record<string, unknown> = {
    type: "app_mention",
    client_msg_id: stored.clientMsgId,
    text,
    user: input.user,
    ts: stored.ts,
    blocks: stored.blocks,
    team: team.id,
    channel: input.channel,
    event_ts: stored.ts,
  };
  if (stored.threadTs !== undefined) event.thread_ts = stored.threadTs;
  const result: UserMentionResult = { ts: stored.ts, event: events.sendEvent(teamId, event) };
  if (stored.threadTs !== undefined) result.threadTs = stored.threadTs;
  if (input.alsoMessageEvent ?? state.settings.messageEventsForMentions) {
    result.messageEvent = events.sendEvent(teamId, state.messageEvent(team, stored));
  }
  return result;
}

export function userMessage(
  state: SlackState,
  events: EventSender,
  teamId: string,
  input: UserMessageInput,
): { ts: string; threadTs?: string; event: SimEnvelope } {
  const team = state.team(teamId);
  const stored = state.messages.storeUser(team, input);
  const result: { ts: string; threadTs?: string; event: SimEnvelope } = {
    ts: stored.ts,
    event: events.sendEvent(teamId, state.messageEvent(team, stored, input.channelType)),
  };
  if (stored.threadTs !== undefined) result.threadTs = stored.threadTs;
  return result;
}

/** A block_actions click on a button of a stored message; block id and button text come from the message. */
export function clickButton(state: SlackState, events: EventSender, teamId: string, input: ClickButtonInput): SimEnvelope {
  const team = state.team(teamId);
  const stored = state.messages.find(team, input.channel, input.messageTs);
  let blockId = input.blockId;
  let buttonText = input.actionId;
  for (const block of stored?.blocks ?? []) {
    const b = block as Record<string, unknown>;
    const candidates = [...(asArray(b.elements) ?? []), b.accessory];
    for (const el of candidates) {
      const e = el as Record<string, unknown> | undefined;
      if (e && e.action_id === input.actionId) {
        blockId ??= asString(b.block_id);
        buttonText = blockText(e) || buttonText;
      }
    }
  }
  const action: Record<string, unknown> = {
    action_id: input.actionId,
    block_id: blockId ?? "actions",
    text: { type: "plain_text", text: buttonText, emoji: true },
    type: "button",
    action_ts: state.nextTs(),
  };
  if (input.value !== undefined) action.value = input.value;
  return events.sendInteractive(teamId, {
    user: { id: input.user ?? "U0USER1" },
    container: { type: "message", message_ts: input.messageTs, channel_id: input.channel, is_ephemeral: false },
    actions: [action],
  });
}
