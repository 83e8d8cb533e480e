/**
 * Native streaming of Slack replies (`chat.startStream` / `appendStream` / `stopStream`): the
 * SlackSink hands every delivery of a reply message here first; what is not streamed goes the
 * `chat.update` way (today's path), which is also where every fault ends up.
 *
 * - A stream starts with the reply's first text, in the placeholder's thread, addressed to the
 *   asker (`recipient_user_id`/`recipient_team_id`, required outside DMs). It starts empty, so a
 *   start that failed without an answer leaves no text behind; the text follows as appends.
 * - Each delivery is a snapshot of the whole message; the stream gets the delta since the last
 *   one, cut after the last whitespace (so the mention escaping of `escapeSlackMarkdown` stays
 *   append-only) and without the fence the splitter adds while a code block is open.
 * - The final delivery stops the stream with the rest of the text and the note; the placeholder,
 *   whose Stop button served while the answer streamed below it, is deleted then.
 * - Whenever the stream cannot simply grow — Slack closed it (`message_not_in_streaming_state`), a
 *   call may or may not have landed (network drop, 5xx), the text was split or rewritten — the
 *   message stops streaming and from then on its whole text is set with `chat.update`: nothing is
 *   appended twice, nothing is lost. A 429 is thrown for the ReplyStreamer to wait out (Retry-After),
 *   and slows the workspace's stream budget down; a deleted stream (`message_not_found`): ReplyGoneError.
 * - Refusals that hold for the whole workspace (`unknown_method`, `feature_not_enabled`,
 *   `missing_scope`, …) latch streaming off there (SlackFeatures); a 429 on the start or a channel
 *   without a recipient sends only that reply the `chat.update` way.
 * - Every stream is recorded in Redis under the reply message it serves (its ts, the attempt —
 *   one ReplyStreamer — that owns it, its state, the text sent), so a retry after a crash finds the
 *   dead attempt's stream: it ends it with a note and streams anew below it, or, when the retry
 *   delivers the final text at once (an answer decided before the crash), the dead stream's message
 *   becomes the answer. A final that already landed is not sent again.
 */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { PlatformError, PlatformRateLimitedError, ReplyGoneError } from "../../src/errors.ts";
import type { SlackKeys } from "../../src/keys.ts";
import type { Logger } from "../../src/logger.ts";
import { escapeSlackMarkdown, stableMarkdownLength } from "../../src/text/escapeMentions.ts";
import type { EditOptions, ReplyTarget } from "../../src/types.ts";
import type { SlackEditBudget } from "./SlackEditBudget.ts";
import type { SlackFeatures } from "./SlackFeatures.ts";
import { isRateLimited, retryAfterMs, slackError, toPlatformError } from "./slackApiErrors.ts";
import { renderSlackNote, slackTextWithNote } from "./slackMessages.ts";
import type { WebClient } from "./slackWorkspaces.ts";

/** Shown under a stream a crashed or stopped worker left behind, when the retry continues below it. */
export const INTERRUPTED_STREAM_NOTE = "interrupted by a worker restart — the answer continues below";
const RECORD_TTL_SECONDS = 24 * 3600; // how long a stream's record is kept
const LIVE_MAX = 2000;

export interface SlackStreamsDeps {
  enabled: boolean;
  redis: Redis;
  keys: SlackKeys;
  logger: Logger;
  features: SlackFeatures;
  editBudget: SlackEditBudget;
  streamBudget: SlackEditBudget;
  client(workspaceId: string | undefined): Promise<WebClient>;
  /** A placeholder's answer started streaming below it (the sink may say so in the placeholder). */
  onStreamStarted?(placeholder: ReplyTarget): Promise<void>;
  /** A placeholder's answer landed in its own message: the placeholder goes. */
  removePlaceholder?(placeholder: ReplyTarget): Promise<void>;
  /** A stream message `ts` now shows the placeholder's reply (its deletion stops the reply too). */
  remember?(placeholder: ReplyTarget, ts: string): Promise<void>;
}

/** A stream as recorded in Redis. */
interface StreamRecord {
  ts: string;
  attempt: string;
  state: "streaming" | "ended" | "plain" | "final";
  sent: string;
  threadTs: string;
  recipientUserId?: string;
  recipientTeamId?: string;
  /** Hash of the final text shown (a re-delivery of the same final is not sent again). */
  finalKey?: string;
}

/** A reply message of this attempt: streamed, or set with chat.update, or the sink's own path ("edit"). */
interface Live {
  mode: "streaming" | "plain" | "gone" | "edit";
  record?: StreamRecord;
  /** plain: the stream must be stopped before chat.update (it may still be streaming). */
  mustStop?: boolean;
  /** plain: the text last set. */
  shown?: string;
  placeholderReleased?: boolean;
}

const EDIT: Live = { mode: "edit" };
const hash = (text: string) => createHash("sha256").update(text).digest("base64url").slice(0, 22);

/** What a delivery puts in the message: the text without the splitter's closing fence (not final), leading blank space dropped. */
function contentOf(text: string, opts: EditOptions): string {
  const open = !opts.final && opts.closing && text.endsWith(opts.closing) ? text.slice(0, -opts.closing.length) : text;
  return open.trimStart();
}

export class SlackStreams {
  private readonly live = new Map<string, Live>();

  constructor(private readonly deps: SlackStreamsDeps) {}

  /** A delivery to a reply message. false: not streamed, the sink edits `target` itself. */
  async edit(target: ReplyTarget, text: string, opts: EditOptions): Promise<boolean> {
    const memKey = this.memKey(opts, target);
    let live = this.live.get(memKey);
    if (!live) {
      live = await this.adopt(target, text, opts);
      if (!live) {
        const content = contentOf(text, opts);
        if (opts.final || content === "") return false;
        live = (await this.eligible(target)) ? await this.start(target, opts, target.messageId, this.recipientOf(target)) : undefined;
        live ??= EDIT;
      }
      this.remember(memKey, live);
    }
    if (live.mode === "edit") return false;
    await this.deliver(live, target, text, opts);
    return true;
  }

  /**
   * An overflow message of a reply that streams: a new stream after the previous message. undefined:
   * the sink posts it (the reply does not stream, or this is its final text: one post is enough).
   */
  async post(after: ReplyTarget, text: string, opts: EditOptions): Promise<ReplyTarget | undefined> {
    const prev = this.live.get(this.memKey(opts, after));
    const record = prev?.record;
    if (!record || prev.mode === "edit" || opts.final || contentOf(text, opts) === "") return undefined;
    const where: ReplyTarget = { ...after, threadId: record.threadTs, messageId: "" };
    const live = await this.start(where, opts, undefined, record);
    if (!live?.record) return undefined;
    const posted: ReplyTarget = { platform: "slack", channelId: after.channelId, threadId: record.threadTs, messageId: live.record.ts };
    if (after.workspaceId !== undefined) posted.workspaceId = after.workspaceId;
    if (after.requestId !== undefined) posted.requestId = after.requestId;
    this.remember(this.memKey(opts, posted), live);
    await this.deliver(live, posted, text, opts);
    return posted;
  }

  /** An overflow message this attempt posted the plain way: its edits go the plain way too. */
  postedPlain(posted: ReplyTarget, opts: EditOptions | undefined): void {
    this.remember(this.memKey(opts, posted), EDIT);
  }

  // ------------------------------------------------------------------ starting

  private async eligible(target: ReplyTarget): Promise<boolean> {
    // Only the adapter's placeholder carries the asker: overflow messages stream only through post().
    if (!this.deps.enabled || !target.userId || !target.threadId || !target.workspaceId) return false;
    return !(await this.deps.features.isOff(target.workspaceId, "streaming"));
  }

  private recipientOf(target: ReplyTarget): Pick<StreamRecord, "recipientUserId" | "recipientTeamId"> {
    const r: Pick<StreamRecord, "recipientUserId" | "recipientTeamId"> = {};
    if (target.userId) r.recipientUserId = target.userId;
    if (target.workspaceId) r.recipientTeamId = target.workspaceId;
    return r;
  }

  /** Starts a stream in `where`'s thread; recorded under `logicalTs` (the placeholder), or under its own ts. */
  private async start(
    where: ReplyTarget,
    opts: EditOptions,
    logicalTs: string | undefined,
    recipient: Pick<StreamRecord, "recipientUserId" | "recipientTeamId">,
  ): Promise<Live | undefined> {
    const team = where.workspaceId;
    const threadTs = where.threadId ?? "";
    const client = await this.deps.client(team);
    let ts: string | undefined;
    try {
      const res = await client.chat.startStream({
        channel: where.channelId,
        thread_ts: threadTs,
        ...(recipient.recipientUserId ? { recipient_user_id: recipient.recipientUserId } : {}),
        ...(recipient.recipientTeamId ? { recipient_team_id: recipient.recipientTeamId } : {}),
      });
      ts = res.ts;
    } catch (err) {
      if (team === undefined || !(await this.deps.features.refused(team, "streaming", err))) {
        this.deps.logger.warn(
          { err: slackError(err) ?? String(err), rateLimited: isRateLimited(err), channel: where.channelId },
          "could not start a stream; this reply is edited in place",
        );
      }
      return undefined;
    }
    if (!ts) return undefined;
    const record: StreamRecord = { ts, attempt: opts.attempt ?? "", state: "streaming", sent: "", threadTs };
    if (recipient.recipientUserId) record.recipientUserId = recipient.recipientUserId;
    if (recipient.recipientTeamId) record.recipientTeamId = recipient.recipientTeamId;
    const live: Live = { mode: "streaming", record };
    await this.save(where, logicalTs ?? ts, record);
    if (logicalTs !== undefined && logicalTs !== ts) {
      await this.deps.remember?.(where, ts);
      await this.deps.onStreamStarted?.(where);
    }
    return live;
  }

  // ------------------------------------------------------------------ delivering

  private async deliver(live: Live, target: ReplyTarget, text: string, opts: EditOptions): Promise<void> {
    if (live.mode === "gone") throw new ReplyGoneError("slack: the streamed reply is gone");
    if (!live.record) return;
    const ends = opts.final || opts.note !== undefined;
    if (live.mode === "streaming") {
      // The last call of a stream closes an open code block too (the note goes under it).
      const content = contentOf(text, ends ? { ...opts, final: true } : opts);
      const upTo = ends ? content : content.slice(0, stableMarkdownLength(content));
      if (upTo.startsWith(live.record.sent)) {
        const delta = upTo.slice(live.record.sent.length);
        if (ends) await this.stop(live, target, text, delta, opts);
        else if (delta.length > 0) await this.append(live, target, text, delta, opts);
        return;
      }
      // The text no longer extends what the stream shows (its split moved): replace it whole.
      live.mode = "plain";
      live.mustStop = true;
    }
    await this.replace(live, target, text, opts);
  }

  private async append(live: Live, target: ReplyTarget, text: string, delta: string, opts: EditOptions): Promise<void> {
    const record = live.record!;
    const team = target.workspaceId ?? "-";
    const client = await this.deps.client(target.workspaceId);
    try {
      await this.deps.streamBudget.acquire(team);
    } catch (err) {
      this.deps.logger.warn({ err }, "could not take a slot of the Slack stream budget; appending anyway");
    }
    try {
      await client.chat.appendStream({ channel: target.channelId, ts: record.ts, markdown_text: escapeSlackMarkdown(delta) });
    } catch (err) {
      await this.streamFailed(live, target, text, opts, err, "chat.appendStream");
      return;
    }
    record.sent += delta;
    await this.save(target, target.messageId, record);
  }

  private async stop(live: Live, target: ReplyTarget, text: string, delta: string, opts: EditOptions): Promise<void> {
    const record = live.record!;
    const client = await this.deps.client(target.workspaceId);
    const markdown = escapeSlackMarkdown(delta) + (opts.note ? escapeSlackMarkdown(renderSlackNote(opts.note)) : "");
    try {
      await client.chat.stopStream({ channel: target.channelId, ts: record.ts, ...(markdown ? { markdown_text: markdown } : {}) });
    } catch (err) {
      await this.streamFailed(live, target, text, opts, err, "chat.stopStream");
      return;
    }
    record.sent += delta;
    record.state = opts.final ? "final" : "ended";
    if (opts.final) record.finalKey = hash(`${text}\u0000${opts.note ?? ""}`);
    live.mode = "plain";
    await this.save(target, target.messageId, record);
    if (opts.final) await this.releasePlaceholder(live, target);
  }

  /** A stream call failed: wait (429), drop (deleted), or switch the message to chat.update now. */
  private async streamFailed(live: Live, target: ReplyTarget, text: string, opts: EditOptions, err: unknown, what: string): Promise<void> {
    if (isRateLimited(err)) {
      const ms = retryAfterMs(err);
      if (what === "chat.appendStream") await this.deps.streamBudget.penalize(target.workspaceId ?? "-", ms).catch(() => undefined);
      this.deps.logger.warn({ retryAfterMs: ms, workspace: target.workspaceId, what }, "Slack rate limit (429) on a stream; waiting");
      throw new PlatformRateLimitedError(ms);
    }
    const code = slackError(err);
    if (code === "message_not_found") {
      live.mode = "gone";
      throw new ReplyGoneError(`slack ${what}: the streamed reply is gone (message_not_found)`);
    }
    // Closed by Slack: nothing to stop. Anything else may have landed: stop it before replacing the text.
    live.mode = "plain";
    live.mustStop = code !== "message_not_in_streaming_state";
    this.deps.logger.warn(
      { err: code ?? String(err), what, channel: target.channelId },
      "stream call failed; the message is edited from now on",
    );
    await this.replace(live, target, text, opts);
  }

  /** The message no longer streams: set its whole text (mrkdwn) with chat.update. */
  private async replace(live: Live, target: ReplyTarget, text: string, opts: EditOptions): Promise<void> {
    const record = live.record!;
    const team = target.workspaceId ?? "-";
    const client = await this.deps.client(target.workspaceId);
    if (live.mustStop) {
      try {
        await client.chat.stopStream({ channel: target.channelId, ts: record.ts });
      } catch (err) {
        if (isRateLimited(err)) throw new PlatformRateLimitedError(retryAfterMs(err));
      }
      live.mustStop = false;
    }
    const finalKey = opts.final ? hash(`${text}\u0000${opts.note ?? ""}`) : undefined;
    const body = slackTextWithNote(text, opts.note);
    if (body !== live.shown && !(finalKey && record.finalKey === finalKey)) {
      await this.deps.editBudget.acquire(team).catch(() => undefined);
      try {
        await client.chat.update({ channel: target.channelId, ts: record.ts, text: body, blocks: [] });
      } catch (err) {
        const code = slackError(err);
        if (code === "message_not_found") {
          live.mode = "gone";
          throw new ReplyGoneError("slack chat.update: the reply is gone (message_not_found)");
        }
        if (code === "streaming_state_conflict") {
          live.mustStop = true;
          throw new PlatformError("chat.update: the message is still streaming");
        }
        if (isRateLimited(err)) await this.deps.editBudget.penalize(team, retryAfterMs(err)).catch(() => undefined);
        throw toPlatformError(err, "chat.update");
      }
      live.shown = body;
    }
    record.state = opts.final ? "final" : "plain";
    if (finalKey) record.finalKey = finalKey;
    await this.save(target, target.messageId, record);
    if (opts.final) await this.releasePlaceholder(live, target);
  }

  /** The answer lives in its own message: the placeholder (only there for its Stop button) goes. */
  private async releasePlaceholder(live: Live, target: ReplyTarget): Promise<void> {
    // Only the adapter's placeholder carries the asker (`userId`).
    if (live.placeholderReleased || !target.userId || !live.record || live.record.ts === target.messageId) return;
    live.placeholderReleased = true;
    await this.deps.removePlaceholder?.(target);
  }

  // ------------------------------------------------------------------ a dead attempt's stream

  /** A stream another attempt left on this message. Final: its message becomes the answer. Not final: it is ended with a note. */
  private async adopt(target: ReplyTarget, text: string, opts: EditOptions): Promise<Live | undefined> {
    const record = await this.load(target);
    if (!record || record.attempt === (opts.attempt ?? "")) return record ? { mode: "plain", record } : undefined;
    const finalKey = hash(`${text}\u0000${opts.note ?? ""}`);
    if (opts.final) {
      const live: Live = { mode: "plain", record: { ...record, attempt: opts.attempt ?? "" }, mustStop: record.state === "streaming" };
      if (record.state === "final" && record.finalKey === finalKey) live.shown = slackTextWithNote(text, opts.note);
      return live;
    }
    if (record.state === "streaming") await this.endDead(target, record);
    record.state = "ended";
    await this.save(target, target.messageId, record);
    // The answer starts over below the dead stream, in a new one when the workspace streams.
    if (!this.deps.enabled || (target.workspaceId && (await this.deps.features.isOff(target.workspaceId, "streaming")))) return EDIT;
    return (await this.start({ ...target, threadId: record.threadTs }, opts, target.messageId, record)) ?? EDIT;
  }

  private async endDead(target: ReplyTarget, record: StreamRecord): Promise<void> {
    const client = await this.deps.client(target.workspaceId);
    try {
      await client.chat.stopStream({
        channel: target.channelId,
        ts: record.ts,
        markdown_text: escapeSlackMarkdown(renderSlackNote(INTERRUPTED_STREAM_NOTE)),
      });
    } catch (err) {
      if (isRateLimited(err)) throw new PlatformRateLimitedError(retryAfterMs(err));
      if (slackError(err) === "message_not_found") return;
      // Closed by Slack in the meantime: the note goes in with chat.update.
      await client.chat
        .update({ channel: target.channelId, ts: record.ts, text: slackTextWithNote(record.sent, INTERRUPTED_STREAM_NOTE), blocks: [] })
        .catch((e: unknown) => this.deps.logger.warn({ err: slackError(e) ?? String(e) }, "could not mark a dead stream"));
    }
  }

  // ------------------------------------------------------------------ bookkeeping

  private memKey(opts: EditOptions | undefined, target: ReplyTarget): string {
    return `${opts?.attempt ?? ""}\u0000${target.workspaceId ?? "-"}\u0000${target.channelId}\u0000${target.messageId}`;
  }

  private remember(key: string, live: Live): void {
    if (this.live.size >= LIVE_MAX) {
      const oldest = this.live.keys().next().value;
      if (oldest !== undefined) this.live.delete(oldest);
    }
    this.live.set(key, live);
  }

  private async load(target: ReplyTarget): Promise<StreamRecord | undefined> {
    try {
      const raw = await this.deps.redis.get(this.deps.keys.stream(target.workspaceId ?? "-", target.channelId, target.messageId));
      return raw ? (JSON.parse(raw) as StreamRecord) : undefined;
    } catch (err) {
      this.deps.logger.warn({ err }, "could not read a stream's record");
      return undefined;
    }
  }

  private async save(target: ReplyTarget, logicalTs: string, record: StreamRecord): Promise<void> {
    const key = this.deps.keys.stream(target.workspaceId ?? "-", target.channelId, logicalTs);
    await this.deps.redis
      .set(key, JSON.stringify(record), "EX", RECORD_TTL_SECONDS)
      .catch((err: unknown) => this.deps.logger.warn({ err }, "could not record a stream"));
  }
}
