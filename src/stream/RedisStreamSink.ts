/**
 * The reply sink for local surfaces (terminal, one-shot ask, tests): each edit is a full-text
 * snapshot appended to a Redis stream that the surface reads. The final entry carries `final=1`.
 */
import type { Redis } from "ioredis";
import type { Keys } from "../keys.ts";
import type { EditOptions, ReplySink, ReplyTarget } from "../types.ts";

export interface ReplyUpdate {
  text: string;
  final: boolean;
  note?: string;
  /** The stream entry id. */
  id: string;
}

const STREAM_TTL_SECONDS = 3600;

export class RedisStreamSink implements ReplySink {
  readonly maxLength = Infinity;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async edit(target: ReplyTarget, text: string, opts: EditOptions): Promise<void> {
    const key = this.keys.replyStream(target.messageId);
    const fields = ["text", text, "final", opts.final ? "1" : "0"];
    if (opts.note) fields.push("note", opts.note);
    await this.redis
      .multi()
      .xadd(key, "MAXLEN", "~", "200", "*", ...fields)
      .expire(key, STREAM_TTL_SECONDS)
      .exec();
  }

  post(): Promise<ReplyTarget> {
    return Promise.reject(new Error("local replies are never split"));
  }
}

/**
 * Read a reply's updates in order until the final one. `redis` must be a connection that may
 * block (it is used for XREAD BLOCK). Throws on `signal` abort.
 */
export async function* readReplyStream(
  redis: Redis,
  keys: Keys,
  messageId: string,
  opts: { blockMs?: number; signal?: AbortSignal } = {},
): AsyncGenerator<ReplyUpdate> {
  const key = keys.replyStream(messageId);
  let last = "0-0";
  for (;;) {
    if (opts.signal?.aborted) throw opts.signal.reason ?? new Error("aborted");
    const res = (await redis.xread("COUNT", 100, "BLOCK", opts.blockMs ?? 1000, "STREAMS", key, last)) as Array<
      [string, Array<[string, string[]]>]
    > | null;
    if (!res) continue;
    for (const [, entries] of res) {
      for (const [id, flat] of entries) {
        last = id;
        const f: Record<string, string> = {};
        for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
        const update: ReplyUpdate = { id, text: f.text ?? "", final: f.final === "1" };
        if (f.note) update.note = f.note;
        yield update;
        if (update.final) return;
      }
    }
  }
}
