/**
 * The chaos run's verdict, as a pure function of what was sent and what is left (read from Redis
 * by readChaosState.ts, or built by hand in test/tools/chaosChecker.test.ts): did every accepted
 * message get exactly one answer, in its conversation, in order, delivered as stored, with memory
 * alternating user/assistant and nothing left waiting? Messages that Redis itself lost in a crash
 * (acknowledged shortly before a SIGKILL, no trace after the restart) are counted apart, so a
 * bot loss is never excused as a Redis loss or the other way round.
 *
 * Assumes conversation memory was never trimmed (the chaos run sizes the context for that).
 */

/** One message the traffic generator got accepted (one JSON line of the client's output). */
export interface SentRecord {
  requestId: string;
  conversationKey: string;
  /** Its position in its conversation (0, 1, …); a platform user's attempts at message 2 are 2.01, 2.02, … */
  index: number;
  text: string;
  /** Where its reply is delivered (local: the reply stream id; Discord, Slack: the user's message its replies answer). */
  messageId: string;
  /** Tries until accepted (1 = at once). */
  attempts: number;
  /** Tries refused because Redis was unavailable. */
  refusals: number;
  /** When the client got the acknowledgement (ms since the epoch). */
  acceptedAt: number;
  /** A moderator deleted its reply while it was written: it ends stopped, with nothing or one exchange remembered. */
  replyDeleted?: boolean;
}

export interface StoredTurn {
  role: "user" | "assistant";
  text: string;
}

/** One distinct final version of a reply the user was shown. */
export interface DeliveredFinal {
  text: string;
  note?: string;
}

/** What is left after the run, per conversation and per message. */
export interface ChaosState {
  /** Conversation memory, oldest first. */
  turns: Record<string, StoredTurn[]>;
  /** The reply record's state (queued, generating, done, failed), by request id; absent: no record. */
  replyStates: Record<string, string | undefined>;
  /** Distinct final versions delivered, by request id (what the user saw). */
  delivered: Record<string, DeliveredFinal[]>;
  /** Request ids still in a conversation's inbox. */
  waiting: Record<string, string[]>;
  /** A stored answer as its platform shows it (Markdown → platform text); stored as is when absent. */
  render?: (conversationKey: string, stored: string) => string;
}

/** A Redis SIGKILL: when it was killed, and when it answered again. */
export interface RedisCrash {
  killedAt: number;
  backAt: number;
}

export interface CheckFacts {
  redisCrashes: readonly RedisCrash[];
  /** Writes acknowledged this long before a SIGKILL may be gone (appendfsync everysec: up to ~2 s). */
  fsyncWindowMs: number;
}

export interface DeliverySummary {
  sent: number;
  answeredExactlyOnce: number;
  /** Replies a moderator deleted mid-way that ended stopped, with nothing or exactly one exchange remembered. */
  deletedStopped: number;
  /** Acknowledged within the fsync window before a Redis SIGKILL and without any trace after: Redis's loss, not the bot's. */
  lostByRedis: number;
  /** Their request ids. */
  lostByRedisIds: string[];
  lost: number;
  duplicated: number;
  outOfOrder: number;
  stuck: number;
  /** Answered with the error note (every attempt failed). */
  failed: number;
  /** The final text the user saw is not the assistant turn stored for it (or one of them is missing). */
  deliveredNotStored: number;
  doubledAssistant: number;
  missingAssistant: number;
  /** User turns in memory that no accepted message explains. */
  unexpectedTurns: number;
  /** Every count above that must be zero is zero, and every message is answered or lost by Redis. */
  ok: boolean;
  problems: string[];
}

/** The failure counts and how the summary names them. */
export const FAILURE_FIELDS = [
  ["lost", "lost"],
  ["duplicated", "duplicated"],
  ["outOfOrder", "out of order"],
  ["stuck", "stuck placeholders"],
  ["failed", "failed (error note)"],
  ["deliveredNotStored", "delivered ≠ stored"],
  ["doubledAssistant", "doubled assistant turns"],
  ["missingAssistant", "missing assistant turns"],
  ["unexpectedTurns", "unexpected turns"],
] as const satisfies ReadonlyArray<readonly [keyof DeliverySummary, string]>;

function inFsyncWindow(acceptedAt: number, facts: CheckFacts): boolean {
  return facts.redisCrashes.some((c) => acceptedAt >= c.killedAt - facts.fsyncWindowMs && acceptedAt < c.backAt);
}

export function checkDelivery(state: ChaosState, sent: readonly SentRecord[], facts: CheckFacts): DeliverySummary {
  const s: DeliverySummary = {
    sent: sent.length,
    answeredExactlyOnce: 0,
    deletedStopped: 0,
    lostByRedis: 0,
    lostByRedisIds: [],
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
    stuck: 0,
    failed: 0,
    deliveredNotStored: 0,
    doubledAssistant: 0,
    missingAssistant: 0,
    unexpectedTurns: 0,
    ok: false,
    problems: [],
  };
  const byConv = new Map<string, SentRecord[]>();
  for (const r of sent) byConv.set(r.conversationKey, [...(byConv.get(r.conversationKey) ?? []), r]);

  for (const [conv, records] of byConv) {
    const turns = state.turns[conv] ?? [];
    const waiting = new Set(state.waiting[conv] ?? []);
    const sentTexts = new Set(records.map((r) => r.text));
    // Memory alternates user/assistant, starting with a user turn.
    turns.forEach((t, i) => {
      const prev = turns[i - 1];
      if (t.role === "assistant" && (prev === undefined || prev.role === "assistant")) {
        s.doubledAssistant++;
        s.problems.push(`${conv}: turn ${i} is an assistant turn without a user turn before it`);
      }
      if (t.role === "user" && turns[i + 1]?.role !== "assistant") {
        s.missingAssistant++;
        s.problems.push(`${conv}: turn ${i} (user "${t.text}") has no assistant turn after it`);
      }
      if (t.role === "user" && !sentTexts.has(t.text)) {
        s.unexpectedTurns++;
        s.problems.push(`${conv}: turn ${i} (user "${t.text}") matches no accepted message`);
      }
    });

    // Memory must keep the order of messages; attempts of one message (index 2.01, 2.03: posted again
    // after a refusal) are alternatives, not ordered among themselves.
    let lastPos = -1;
    let lastBefore = -1;
    let group = Number.NaN;
    for (const r of [...records].sort((a, b) => a.index - b.index)) {
      if (Math.floor(r.index) !== group) {
        group = Math.floor(r.index);
        lastBefore = lastPos;
      }
      const positions = turns.flatMap((t, i) => (t.role === "user" && t.text === r.text ? [i] : []));
      const finals = state.delivered[r.requestId] ?? [];
      const replyState = state.replyStates[r.requestId];
      const problem = (what: string) => s.problems.push(`${r.requestId} (${conv} #${r.index}): ${what}`);
      if (positions.length > 0) {
        if (positions[0]! < lastBefore) {
          s.outOfOrder++;
          problem(`stored at turn ${positions[0]}, before a message sent ahead of it (turn ${lastBefore})`);
        }
        lastPos = Math.max(lastPos, positions[0]!);
      }
      if (waiting.has(r.requestId) || replyState === "queued" || replyState === "generating") {
        s.stuck++;
        problem(`left waiting (reply state ${replyState ?? "missing"}${waiting.has(r.requestId) ? ", still in the inbox" : ""})`);
        continue;
      }
      if (r.replyDeleted) {
        // Deleted while written: nothing remembered, or (the final landed just before the deletion) one exchange.
        if (positions.length > 1 || finals.length > 0) {
          s.duplicated++;
          problem(`its reply was deleted, yet ${finals.length} final(s) are shown and it is ${positions.length} times in memory`);
        } else {
          s.deletedStopped++;
        }
        continue;
      }
      if (finals.length === 0 && positions.length === 0 && replyState === undefined) {
        if (inFsyncWindow(r.acceptedAt, facts)) {
          s.lostByRedis++;
          s.lostByRedisIds.push(r.requestId);
          problem("no trace after the Redis restart; acknowledged within the fsync window before the SIGKILL (Redis's loss)");
        } else {
          s.lost++;
          problem("no trace at all (no reply record, nothing delivered, nothing stored)");
        }
        continue;
      }
      if (replyState === "failed") {
        s.failed++;
        problem("answered with the error note");
        continue;
      }
      if (finals.length > 1 || positions.length > 1) {
        s.duplicated++;
        problem(`${finals.length} different final replies, ${positions.length} times in memory`);
        continue;
      }
      if (finals.length === 0 && positions.length === 0) {
        s.lost++;
        problem(`no answer delivered and nothing stored (reply state ${replyState})`);
        continue;
      }
      if (finals.length === 0 || positions.length === 0) {
        s.deliveredNotStored++;
        problem(finals.length === 0 ? "stored in memory but never delivered" : "delivered but not stored in memory");
        continue;
      }
      const stored = turns[positions[0]! + 1];
      // A missing assistant turn is counted once, above, for the conversation.
      if (stored?.role !== "assistant") continue;
      const shown = state.render ? state.render(conv, stored.text) : stored.text;
      if (shown !== finals[0]!.text) {
        s.deliveredNotStored++;
        problem(
          `delivered ${JSON.stringify(finals[0]!.text)} but stored ${JSON.stringify(stored.text)} (shown as ${JSON.stringify(shown)})`,
        );
        continue;
      }
      // Another assistant turn right after this answer: counted once, above, for the conversation.
      if (turns[positions[0]! + 2]?.role === "assistant") continue;
      if (replyState !== "done") {
        s.stuck++;
        problem(`answered, but the reply record says ${replyState ?? "nothing"}`);
        continue;
      }
      s.answeredExactlyOnce++;
    }
  }
  s.ok = FAILURE_FIELDS.every(([field]) => s[field] === 0) && s.answeredExactlyOnce + s.deletedStopped + s.lostByRedis === s.sent;
  return s;
}
