/**
 * Modals: the trigger_ids Slack hands out with slash commands and interactions (each opens one view,
 * within 3 seconds), and the views opened with views.open / changed with views.update.
 */
import type { SimView } from "../types.ts";
import { randomId } from "../util.ts";

interface TriggerRecord {
  teamId: string;
  userId: string;
  createdAt: number;
  used: boolean;
}

export class Views {
  private readonly triggers = new Map<string, TriggerRecord>();
  readonly views = new Map<string, SimView>();

  constructor(private readonly ttlMs: () => number) {}

  /** Remembers a trigger_id sent to the app. */
  addTrigger(triggerId: string, teamId: string, userId: string): void {
    this.triggers.set(triggerId, { teamId, userId, createdAt: Date.now(), used: false });
  }

  /** Uses a trigger: the user it is for, or the error views.open answers. */
  exchange(triggerId: string, teamId: string, now = Date.now()): { userId: string } | { error: string } {
    const trigger = this.triggers.get(triggerId);
    if (!trigger || trigger.teamId !== teamId) return { error: "invalid_trigger_id" };
    if (trigger.used) return { error: "exchanged_trigger_id" };
    if (now - trigger.createdAt > this.ttlMs()) return { error: "expired_trigger_id" };
    trigger.used = true;
    return { userId: trigger.userId };
  }

  open(teamId: string, user: string, view: Record<string, unknown>): SimView {
    const id = randomId("V", 5);
    const record: SimView = { id, teamId, user, view, versions: [view], closed: false };
    this.views.set(id, record);
    return record;
  }

  byExternalId(teamId: string, externalId: string): SimView | undefined {
    return [...this.views.values()].find((v) => v.teamId === teamId && v.view.external_id === externalId);
  }
}
