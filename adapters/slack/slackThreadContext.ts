/**
 * Thread context: when someone mentions the bot inside a thread it did not start, the thread's
 * earlier messages (`conversations.replies`, oldest first, with their authors) go into the
 * question's context, so "what do you think of the plan above?" means something. The bot's
 * own threads need none: their conversation is in memory already.
 *
 * At most `limit` messages before the mention are kept (the newest ones); renderUserTurn leaves
 * out the oldest of those when they do not fit the model's context. Slack pages replies oldest
 * first, so long threads are read page by page (at most MAX_PAGES); when a later page fails (rate
 * limits: a non-Marketplace app gets one call a minute) what was read is used. A thread that
 * cannot be read at all (missing `channels:history` / `groups:history` / `im:history` /
 * `mpim:history`, not in the channel) gives no context — the question is still answered.
 *
 * Needs the history scopes in the manifest (adapters/slack/manifest.yml).
 */
import type { ThreadMessage } from "../../src/context/RequestContext.ts";
import type { Logger } from "../../src/logger.ts";
import { fromSlackText } from "./slackMessages.ts";
import type { WebClient } from "./slackWorkspaces.ts";

/** Pages of replies read at most (200 messages each). */
const MAX_PAGES = 5;
const PAGE_SIZE = 200;
/** Longest text kept of one message (a pasted log should not crowd out the rest). */
const MESSAGE_CHARS = 4000;

export interface ThreadContextRequest {
  channelId: string;
  threadTs: string;
  /** The mention: only messages before it are read. */
  beforeTs: string;
  /** The bot's user id: its own messages are marked as its answers. */
  botUserId: string;
  botId?: string;
  /** Most messages kept (SLACK_THREAD_CONTEXT_MESSAGES). */
  limit: number;
  /** A user's display name. */
  name: (userId: string) => Promise<string>;
}

interface RawReply {
  ts?: string;
  user?: string;
  bot_id?: string;
  username?: string;
  bot_profile?: { name?: string };
  text?: string;
  subtype?: string;
  files?: Array<{ name?: string; title?: string }>;
}

/** Subtypes that are not something someone said (joins, topic changes, deletions). */
const SKIPPED_SUBTYPES = new Set(["channel_join", "channel_leave", "group_join", "group_leave", "message_deleted", "tombstone"]);

const tsValue = (ts: string) => Number(ts);

/** The thread's earlier messages, oldest first; [] when it cannot be read. */
export async function readThreadContext(client: WebClient, req: ThreadContextRequest, log: Logger): Promise<ThreadMessage[]> {
  if (req.limit <= 0) return [];
  const raw: RawReply[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    try {
      const res = await client.conversations.replies({
        channel: req.channelId,
        ts: req.threadTs,
        latest: req.beforeTs,
        inclusive: false,
        limit: PAGE_SIZE,
        ...(cursor ? { cursor } : {}),
      });
      raw.push(...((res.messages ?? []) as RawReply[]));
      cursor = res.response_metadata?.next_cursor || undefined;
    } catch (err) {
      const code = (err as { data?: { error?: string } }).data?.error ?? String(err);
      log.warn({ err: code, channel: req.channelId, page }, "could not read the thread for context");
      break;
    }
    if (!cursor || !hasMoreBefore(raw, req.beforeTs)) break;
  }
  const before = tsValue(req.beforeTs);
  const seen = new Set<string>();
  const kept = raw
    .filter((m) => {
      if (!m.ts || seen.has(m.ts) || tsValue(m.ts) >= before) return false;
      seen.add(m.ts);
      if (m.subtype && SKIPPED_SUBTYPES.has(m.subtype)) return false;
      return (m.text ?? "").trim() !== "" || (m.files?.length ?? 0) > 0;
    })
    .sort((a, b) => tsValue(a.ts!) - tsValue(b.ts!))
    .slice(-req.limit);
  return Promise.all(kept.map((m) => toThreadMessage(m, req)));
}

/** Whether reading on can find more messages before the mention (the last page ended before it). */
function hasMoreBefore(raw: RawReply[], beforeTs: string): boolean {
  const last = raw.at(-1)?.ts;
  return last !== undefined && tsValue(last) < tsValue(beforeTs);
}

async function toThreadMessage(m: RawReply, req: ThreadContextRequest): Promise<ThreadMessage> {
  const isBot = m.user === req.botUserId || (req.botId !== undefined && m.bot_id === req.botId);
  let author: string;
  if (isBot) author = "assistant";
  else if (m.user) author = await req.name(m.user);
  else author = m.bot_profile?.name ?? m.username ?? "a bot";
  let text = fromSlackText(m.text ?? "").trim();
  if (text.length > MESSAGE_CHARS) text = `${text.slice(0, MESSAGE_CHARS)}…`;
  const files = (m.files ?? []).map((f) => f.name ?? f.title).filter((n): n is string => Boolean(n));
  if (files.length > 0) text = `${text}${text ? " " : ""}[attached: ${files.join(", ")}]`;
  const out: ThreadMessage = { author, text };
  if (isBot) out.isBot = true;
  return out;
}
