/**
 * Sending what Slack sends the app, as envelopes: events (from a test, a redelivery, or the
 * platform echoing the bot's own posts and edits), slash commands and interactive payloads. Also
 * what Slack does with a slash command's ack payload: shows its text (ephemeral or in channel).
 */
import { SimEnvelope } from "../delivery/SimEnvelope.ts";
import type { SocketModeServer } from "../delivery/SocketModeServer.ts";
import type { ResponseUrls } from "../http/ResponseUrls.ts";
import type { SlackState } from "../state/SlackState.ts";
import type { TeamState } from "../state/Workspaces.ts";
import type { EventOptions, SimEphemeral, SlashCommandInput } from "../types.ts";
import { asArray, asString, newEnvelopeId } from "../util.ts";
import { buildEventPayload, buildInteractivePayload, buildSlashCommandPayload } from "./payloads.ts";

export class EventSender {
  constructor(
    private readonly state: SlackState,
    private readonly delivery: SocketModeServer,
    private readonly responseUrls: ResponseUrls,
  ) {}

  /** Sends an `events_api` envelope carrying `event` (wrapped in an event_callback) from `teamId`. */
  sendEvent(teamId: string, event: Record<string, unknown>, options: EventOptions = {}, source: "test" | "echo" = "test"): SimEnvelope {
    const payload = buildEventPayload(this.state, teamId, event, options.eventId, options.eventTime);
    const attempt = options.retryAttempt ?? 0;
    const reason = options.retryReason ?? (attempt > 0 ? "timeout" : "");
    return this.delivery.dispatch(new SimEnvelope(newEnvelopeId(), "events_api", teamId, payload, attempt, reason, source));
  }

  /** The platform's event for the bot's own activity (echoBotPosts / echoBotEdits); nothing once stopped. */
  echo(team: TeamState, event: Record<string, unknown>): void {
    if (this.delivery.stopped) return;
    this.sendEvent(team.id, event, {}, "echo");
  }

  sendSlashCommand(teamId: string, command: SlashCommandInput): SimEnvelope {
    const payload = buildSlashCommandPayload(this.state, this.responseUrls, teamId, command);
    return this.delivery.dispatch(new SimEnvelope(newEnvelopeId(), "slash_commands", teamId, payload, 0, ""));
  }

  /** An interactive payload exactly as given (view_submission / view_closed build their own). */
  sendRawInteractive(teamId: string, payload: Record<string, unknown>): SimEnvelope {
    return this.delivery.dispatch(new SimEnvelope(newEnvelopeId(), "interactive", teamId, payload, 0, ""));
  }

  sendInteractive(teamId: string, payload: Record<string, unknown>): SimEnvelope {
    const full = buildInteractivePayload(this.state, this.responseUrls, teamId, payload);
    return this.delivery.dispatch(new SimEnvelope(newEnvelopeId(), "interactive", teamId, full, 0, ""));
  }

  /** The same payload again (same event_id) in a new envelope, retry_attempt + 1. */
  redeliver(envelope: SimEnvelope, options: { retryReason?: string } = {}): SimEnvelope {
    const next = new SimEnvelope(
      newEnvelopeId(),
      envelope.type,
      envelope.teamId,
      envelope.payload,
      envelope.retryAttempt + 1,
      options.retryReason ?? "timeout",
      "redelivery",
    );
    return this.delivery.dispatch(next);
  }

  /** What Slack does with a view_submission's ack: closes the view, or updates / pushes / keeps it (errors). */
  private viewAck(envelope: SimEnvelope, payload: unknown): void {
    const view = envelope.payload.view as Record<string, unknown> | undefined;
    const record = this.state.views.views.get(String(view?.id ?? ""));
    if (!record) return;
    const body = (typeof payload === "object" && payload !== null ? payload : {}) as Record<string, unknown>;
    const action = body.response_action;
    const next = body.view as Record<string, unknown> | undefined;
    if (action === "errors") return;
    if (action === "update" && next) {
      record.view = next;
      record.versions.push(next);
      return;
    }
    if (action === "push" && next) {
      this.state.views.open(record.teamId, record.user, { ...next, root_view_id: record.id });
      return;
    }
    if (action === "clear") {
      for (const v of this.state.views.views.values()) if (v.teamId === record.teamId && v.user === record.user) v.closed = true;
      return;
    }
    record.closed = true;
  }

  /** What Slack does with a command's ack payload: shows its text to the user. */
  recordAckResponse(envelope: SimEnvelope, payload: unknown): void {
    if (envelope.type === "interactive" && envelope.payload.type === "view_submission") {
      this.viewAck(envelope, payload);
      return;
    }
    if (envelope.type !== "slash_commands" || typeof payload !== "object" || payload === null) return;
    const body = payload as Record<string, unknown>;
    const text = asString(body.text);
    const blocks = asArray(body.blocks);
    if (text === undefined && blocks === undefined) return;
    const { state } = this;
    const team = state.team(envelope.teamId);
    const channel = asString(envelope.payload.channel_id) ?? "";
    if (body.response_type === "in_channel") {
      const posted = state.messages.storeBot(team, channel, { text: text ?? "", blocks, params: body });
      if (state.settings.echoBotPosts) setImmediate(() => this.echo(team, state.messageEvent(team, posted)));
      return;
    }
    const ephemeral: SimEphemeral = {
      channel,
      team: team.id,
      user: asString(envelope.payload.user_id) ?? "",
      text: text ?? "",
      message_ts: state.nextTs(),
      via: "ack",
    };
    if (blocks) ephemeral.blocks = blocks;
    team.ephemerals.push(ephemeral);
  }
}
