/**
 * The reply sink for local surfaces (terminal, one-shot ask, tests): each edit is a full-text
 * snapshot appended to a Redis stream that the surface reads. The final entry carries `final=1`.
 * Images (/imagine previews and results) travel in the same stream, base64-encoded, with the
 * stream cut to its last few entries so previews do not pile up in Redis.
 */
import type { Redis } from "ioredis";
import type { ImageMime } from "../images/imageBytes.ts";
import type { Keys } from "../keys.ts";
import type { EditOptions, ReplyImage, ReplySink, ReplyTarget } from "../types.ts";

export interface ReplyUpdate {
  text: string;
  final: boolean;
  note?: string;
  /** An image shown in the reply (`text` is its caption). */
  image?: { bytes: Buffer; mime: ImageMime; filename: string; alt: string };
  /** The image generation ended early; this is where it got to. */
  stopped?: boolean;
  /** The stream entry id. */
  id: string;
}

const STREAM_TTL_SECONDS = 3600;
/** Entries kept once images flow (a reader only needs the newest; the final one is always last). */
const IMAGE_STREAM_MAXLEN = 4;

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

  async showImage(target: ReplyTarget, image: ReplyImage): Promise<undefined> {
    const key = this.keys.replyStream(target.messageId);
    const fields = ["text", image.caption, "final", image.final ? "1" : "0", "image", image.bytes.toString("base64")];
    fields.push("mime", image.mime, "filename", image.filename, "alt", image.alt);
    if (image.stopped) fields.push("stopped", "1");
    await this.redis
      .multi()
      .xadd(key, "MAXLEN", String(IMAGE_STREAM_MAXLEN), "*", ...fields)
      .expire(key, STREAM_TTL_SECONDS)
      .exec();
    return undefined;
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
        if (f.image) {
          const mime = (f.mime ?? "image/png") as ImageMime;
          update.image = { bytes: Buffer.from(f.image, "base64"), mime, filename: f.filename ?? "image", alt: f.alt ?? "" };
        }
        if (f.stopped === "1") update.stopped = true;
        yield update;
        if (update.final) return;
      }
    }
  }
}
