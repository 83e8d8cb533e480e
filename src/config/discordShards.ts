/**
 * `DISCORD_SHARDS`: which gateway shards this adapter process runs. Discord requires sharding past
 * 2,500 servers; each shard receives the events of the servers with `(guild_id >> 22) % count`
 * equal to its id (and DMs arrive on shard 0). Several adapter processes share the shards by each
 * running a range of them with the same total.
 *
 *   auto        every shard, as many as Discord recommends (GET /gateway/bot)
 *   0-3/8       shards 0, 1, 2 and 3 of 8
 *   0,2,4/6     shards 0, 2 and 4 of 6
 */
import { z } from "zod";

export interface DiscordShards {
  /** The shard ids this process runs, or every recommended shard. */
  ids: number[] | "auto";
  /** The total number of shards across all processes (absent with `auto`). */
  count?: number;
}

const MAX_SHARDS = 65_536;

/** The parsed value, or the reason it is not one. */
export function parseDiscordShards(raw: string): DiscordShards | string {
  const v = raw.trim().toLowerCase();
  if (v === "auto") return { ids: "auto" };
  const m = /^([\d\s,-]+)\/\s*(\d+)$/.exec(v);
  if (!m) return 'must be "auto" or shard ids with the total, e.g. "0-3/8" or "0,2/4"';
  const count = Number(m[2]);
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_SHARDS) return `the total must be 1–${MAX_SHARDS}`;
  const ids = new Set<number>();
  for (const part of m[1]!.split(",").map((s) => s.trim())) {
    const r = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(part);
    if (!r) return `"${part}" is not a shard id or a range like 0-3`;
    const from = Number(r[1]);
    const to = r[2] === undefined ? from : Number(r[2]);
    if (to < from) return `the range ${part} runs backwards`;
    if (to >= count) return `shard ${to} is outside 0–${count - 1} (the total is ${count})`;
    for (let id = from; id <= to; id++) ids.add(id);
  }
  return { ids: [...ids].sort((a, b) => a - b), count };
}

export const discordShards = z.string().transform((raw, ctx) => {
  const parsed = parseDiscordShards(raw);
  if (typeof parsed === "string") {
    ctx.addIssue({ code: "custom", message: parsed });
    return z.NEVER;
  }
  return parsed;
});
