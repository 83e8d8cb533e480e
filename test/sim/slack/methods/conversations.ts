/**
 * `conversations.info`, `conversations.history` (top level, newest first) and `conversations.replies`
 * (a thread: the parent first, then its replies, oldest first), with `limit`, `cursor` pages
 * (`response_metadata.next_cursor`), `oldest` / `latest` / `inclusive`, and `metadata` only with
 * `include_all_metadata`. As a non-Marketplace app (`nonMarketplaceApp`) a page holds at most 15
 * messages (the default too) and the dispatcher allows one call a minute.
 */

import { compareTs } from "../state/clock.ts";
import type { StoredMessage } from "../state/MessageStore.ts";
import type { SlackState } from "../state/SlackState.ts";
import type { ChannelState, TeamState } from "../state/Workspaces.ts";
import { asBool, asString } from "../util.ts";
import { bot, type MethodDeps, type MethodSpec, requireString, SimApiError } from "./MethodSpec.ts";

/** The page size cap for non-Marketplace apps (Slack, 2025-05-29). */
export const NON_MARKETPLACE_PAGE_LIMIT = 15;

function channelInfo(team: TeamState, c: ChannelState): Record<string, unknown> {
  return {
    id: c.id,
    name: c.name,
    is_channel: c.type === "channel",
    is_group: c.type === "group",
    is_im: c.type === "im",
    is_mpim: c.type === "mpim",
    is_private: c.type !== "channel",
    is_archived: c.archived,
    is_general: c.name === "general",
    is_member: c.botIsMember,
    created: c.created,
    context_team_id: team.id,
    ...(c.user !== undefined ? { user: c.user } : {}),
  };
}

const TS_PATTERN = /^\d+(\.\d+)?$/;

/** limit, cursor (an offset), oldest/latest/inclusive: the page of `list` to answer. */
function page(
  state: SlackState,
  team: TeamState,
  list: StoredMessage[],
  params: Record<string, unknown>,
  defaultLimit: number,
  pinnedFirst?: StoredMessage,
): Record<string, unknown> {
  const oldest = asString(params.oldest);
  const latest = asString(params.latest);
  if (oldest !== undefined && oldest !== "" && !TS_PATTERN.test(oldest)) throw new SimApiError("invalid_ts_oldest");
  if (latest !== undefined && latest !== "" && !TS_PATTERN.test(latest)) throw new SimApiError("invalid_ts_latest");
  const inclusive = asBool(params.inclusive) ?? false;
  const inRange = (m: StoredMessage): boolean => {
    if (oldest !== undefined && oldest !== "") {
      const c = compareTs(m.ts, oldest);
      if (c < 0 || (c === 0 && !inclusive)) return false;
    }
    if (latest !== undefined && latest !== "") {
      const c = compareTs(m.ts, latest);
      if (c > 0 || (c === 0 && !inclusive)) return false;
    }
    return true;
  };
  const filtered = list.filter((m) => m === pinnedFirst || inRange(m));
  const cap = state.settings.nonMarketplaceApp ? NON_MARKETPLACE_PAGE_LIMIT : 1000;
  const asked = Number(params.limit ?? 0) || (state.settings.nonMarketplaceApp ? NON_MARKETPLACE_PAGE_LIMIT : defaultLimit);
  const limit = Math.max(1, Math.min(asked, cap));
  const cursor = asString(params.cursor);
  let offset = 0;
  if (cursor !== undefined && cursor !== "") {
    const decoded = /^next:(\d+)$/.exec(Buffer.from(cursor, "base64").toString("utf8"));
    if (!decoded?.[1]) throw new SimApiError("invalid_cursor");
    offset = Number(decoded[1]);
  }
  const slice = filtered.slice(offset, offset + limit);
  const hasMore = offset + limit < filtered.length;
  const metadata = asBool(params.include_all_metadata) ?? false;
  return {
    messages: slice.map((m) => state.shape(m, team, { metadata })),
    has_more: hasMore,
    response_metadata: { next_cursor: hasMore ? Buffer.from(`next:${offset + limit}`).toString("base64") : "" },
  };
}

export function conversationsMethods({ state }: MethodDeps): Record<string, MethodSpec> {
  return {
    "conversations.info": bot(({ team, params }) => {
      const id = requireString(params, "channel", "channel_not_found");
      const channel = team.channels.get(id);
      if (!channel) throw new SimApiError("channel_not_found");
      return { channel: channelInfo(team, channel) };
    }),
    "conversations.history": bot(({ team, params }) => {
      const id = requireString(params, "channel", "channel_not_found");
      if (!team.channels.has(id)) throw new SimApiError("channel_not_found");
      const list = (team.messages.get(id) ?? []).filter((m) => !m.deleted && (m.threadTs === undefined || m.replyBroadcast));
      return page(state, team, [...list].reverse(), params, 100);
    }),
    "conversations.replies": bot(({ team, params }) => {
      const id = requireString(params, "channel", "channel_not_found");
      if (!team.channels.has(id)) throw new SimApiError("channel_not_found");
      const ts = requireString(params, "ts", "thread_not_found");
      const target = state.messages.find(team, id, ts);
      if (!target) throw new SimApiError("thread_not_found");
      const parentTs = target.threadTs ?? target.ts;
      const list = (team.messages.get(id) ?? []).filter((m) => !m.deleted && (m.ts === parentTs || m.threadTs === parentTs));
      const parent = list.find((m) => m.ts === parentTs);
      return page(state, team, list, params, 1000, parent);
    }),
  };
}
