/**
 * The chaos run's verdict on what a chat platform shows (Discord, Slack), as a pure function of
 * an observation read from its simulator (platformTraffic.ts) or built by hand in a test: every
 * question answered by exactly one message chain (no second placeholder), no message left at
 * "Thinking…"/"Waiting" or with a live Stop button, and nothing more done for a reply a moderator
 * deleted. Redis's own losses (checkDelivery.ts) excuse a placeholder left behind, nothing else.
 */

/** One message the bot posted. */
export interface BotMessageView {
  messageId: string;
  /** The user's message (attempt) it answers, when known. */
  userMessageId: string | undefined;
  text: string;
  /** Still shows the placeholder ("⏳ Thinking…", "⏳ Waiting — …"). */
  placeholder: boolean;
  /** Still shows a Stop button. */
  live: boolean;
  /** A refusal ("⚠️ …", "I can't take messages right now…"): not an answer. */
  refusal: boolean;
  deleted: boolean;
  postedAt: number;
}

/** A reply a moderator deleted while it was being written. */
export interface Deletion {
  userMessageId: string;
  messageId: string;
  at: number;
}

export interface SurfaceObservation {
  platform: string;
  /** The user messages that were taken (answered, not refused): each must have one answer. */
  taken: readonly string[];
  messages: readonly BotMessageView[];
  deletions: readonly Deletion[];
  /** Edits, posts and other writes the bot aimed at a deleted reply's message, with when. */
  writesToDeleted: ReadonlyArray<{ messageId: string; at: number }>;
}

export interface SurfaceSummary {
  platform: string;
  answerChains: number;
  duplicatePlaceholders: number;
  missingAnswers: number;
  stuckPlaceholders: number;
  liveStopButtons: number;
  continuedAfterDelete: number;
  problems: string[];
}

export const SURFACE_FAILURES = [
  ["duplicatePlaceholders", "second reply messages"],
  ["missingAnswers", "taken but no reply shown"],
  ["stuckPlaceholders", "left at Thinking…/Waiting"],
  ["liveStopButtons", "live Stop buttons"],
  ["continuedAfterDelete", "continued after a deleted reply"],
] as const satisfies ReadonlyArray<readonly [keyof SurfaceSummary, string]>;

export interface SurfaceOptions {
  /** User messages whose request Redis lost in a crash (checkDelivery's lostByRedis): a placeholder of theirs may stay. */
  lostByRedis: ReadonlySet<string>;
  /** How long after a deletion the bot may still touch the message (its in-flight edit; the deletion event's way). */
  graceMs: number;
}

export function checkSurface(o: SurfaceObservation, opts: SurfaceOptions): SurfaceSummary {
  const s: SurfaceSummary = {
    platform: o.platform,
    answerChains: 0,
    duplicatePlaceholders: 0,
    missingAnswers: 0,
    stuckPlaceholders: 0,
    liveStopButtons: 0,
    continuedAfterDelete: 0,
    problems: [],
  };
  const problem = (what: string) => s.problems.push(`${o.platform}: ${what}`);
  const deleted = new Map(o.deletions.map((d) => [d.userMessageId, d]));
  const byUser = new Map<string, BotMessageView[]>();
  for (const m of o.messages) {
    if (m.userMessageId !== undefined) byUser.set(m.userMessageId, [...(byUser.get(m.userMessageId) ?? []), m]);
    if (m.deleted) continue;
    const excused = m.userMessageId !== undefined && opts.lostByRedis.has(m.userMessageId);
    if (m.placeholder && !excused) {
      s.stuckPlaceholders++;
      problem(`message ${m.messageId} (reply to ${m.userMessageId ?? "?"}) still shows ${JSON.stringify(m.text.slice(0, 40))}`);
    } else if (m.live && !excused) {
      s.liveStopButtons++;
      problem(`message ${m.messageId} (reply to ${m.userMessageId ?? "?"}) still has its Stop button`);
    }
  }
  for (const id of o.taken) {
    const shown = (byUser.get(id) ?? []).filter((m) => !m.deleted && !m.refusal);
    const d = deleted.get(id);
    if (d) {
      const later = (byUser.get(id) ?? []).filter((m) => m.messageId !== d.messageId && m.postedAt > d.at);
      if (later.length > 0) {
        s.continuedAfterDelete++;
        problem(`reply to ${id} deleted at ${d.at}, then ${later.length} new message(s) posted for it`);
      }
      continue;
    }
    if (shown.length === 0) {
      if (opts.lostByRedis.has(id)) continue;
      s.missingAnswers++;
      problem(`user message ${id} was taken but no reply is shown for it`);
    } else if (shown.length > 1) {
      s.duplicatePlaceholders++;
      problem(`user message ${id} has ${shown.length} reply messages (${shown.map((m) => m.messageId).join(", ")})`);
    } else {
      s.answerChains++;
    }
  }
  for (const d of o.deletions) {
    const late = o.writesToDeleted.filter((w) => w.messageId === d.messageId && w.at > d.at + opts.graceMs);
    if (late.length > 0) {
      s.continuedAfterDelete++;
      problem(
        `reply ${d.messageId} deleted at ${d.at}; the bot still wrote to it ${late.length} time(s) more than ${opts.graceMs} ms later`,
      );
    }
  }
  return s;
}

export function surfaceOk(s: SurfaceSummary): boolean {
  return SURFACE_FAILURES.every(([f]) => s[f] === 0);
}
