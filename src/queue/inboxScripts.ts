/**
 * The inbox protocol's Redis scripts, one file each under `lua/` (a header there lists KEYS, ARGV
 * and returns), read once when this module loads and registered once per ioredis connection with
 * `defineCommand` (ioredis sends EVALSHA and reloads a script Redis has forgotten, e.g. after a
 * restart). Only ConversationInbox calls them.
 */
import fs from "node:fs";
import path from "node:path";
import type { Redis } from "ioredis";

/** The scripts, as ioredis commands: name → file under lua/ and number of keys. */
export const INBOX_SCRIPTS = {
  inboxAppend: { file: "append.lua", keys: 8 },
  inboxAttach: { file: "attach.lua", keys: 6 },
  inboxRelease: { file: "release.lua", keys: 5 },
  inboxStart: { file: "start.lua", keys: 2 },
  inboxWithdraw: { file: "withdraw.lua", keys: 5 },
  inboxCommit: { file: "commit.lua", keys: 6 },
  inboxDecide: { file: "decide.lua", keys: 3 },
  inboxReleaseEmpty: { file: "releaseEmpty.lua", keys: 2 },
  inboxLeaseTake: { file: "leaseTake.lua", keys: 1 },
  inboxLeaseRelease: { file: "leaseRelease.lua", keys: 1 },
} as const;

type ScriptName = keyof typeof INBOX_SCRIPTS;
type Arg = string | number;

/** A connection with the scripts defined on it. */
export type InboxRedis = Redis & {
  inboxAppend(...args: Arg[]): Promise<[number, number]>;
  inboxAttach(...args: Arg[]): Promise<number>;
  inboxRelease(...args: Arg[]): Promise<number>;
  inboxStart(...args: Arg[]): Promise<number>;
  inboxWithdraw(...args: Arg[]): Promise<number>;
  inboxCommit(...args: Arg[]): Promise<"OK" | "ALREADY_COMMITTED" | "LOCK_LOST" | "RESET_SINCE">;
  inboxDecide(...args: Arg[]): Promise<number>;
  inboxReleaseEmpty(...args: Arg[]): Promise<number>;
  inboxLeaseTake(...args: Arg[]): Promise<number>;
  inboxLeaseRelease(...args: Arg[]): Promise<number>;
};

const LUA = Object.fromEntries(
  Object.entries(INBOX_SCRIPTS).map(([name, s]) => [name, fs.readFileSync(path.join(import.meta.dirname, "lua", s.file), "utf8")]),
) as Record<ScriptName, string>;

const defined = new WeakSet<Redis>();

/** Define the inbox scripts on `redis` (once per connection; later calls do nothing). */
export function defineInboxCommands(redis: Redis): InboxRedis {
  if (!defined.has(redis)) {
    for (const [name, s] of Object.entries(INBOX_SCRIPTS))
      redis.defineCommand(name, { numberOfKeys: s.keys, lua: LUA[name as ScriptName] });
    defined.add(redis);
  }
  return redis as InboxRedis;
}
