/**
 * "… is typing" in a channel while a reply there is queued or streaming. Discord shows the
 * indicator for ~10 s, so it is renewed until the reply's state says it is done (or failed), or
 * after a cap whatever happens.
 */
import type { Redis } from "ioredis";
import type { Keys } from "../../src/keys.ts";

/** The typing indicator lasts ~10 s on Discord; renew it this often while a reply is pending. */
export const TYPING_INTERVAL_MS = 8000;
/** Stop renewing the typing indicator after this long, whatever happens. */
const TYPING_MAX_MS = 5 * 60_000;

export class DiscordTyping {
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly sendTyping: (channelId: string) => Promise<void>,
    private readonly intervalMs = TYPING_INTERVAL_MS,
  ) {}

  /** Keep typing in `channelId` until the reply to `requestId` is done. */
  keep(channelId: string, requestId: string): void {
    if (this.closed) return;
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const stop = () => {
      if (timer) {
        clearInterval(timer);
        this.timers.delete(timer);
      }
    };
    const tick = async () => {
      const state = await this.redis.hget(this.keys.reply(requestId), "state").catch(() => null);
      if (
        this.closed ||
        state === null ||
        state === "done" ||
        state === "failed" ||
        state === "refused" ||
        Date.now() - started > TYPING_MAX_MS
      )
        return stop();
      await this.sendTyping(channelId);
    };
    timer = setInterval(() => void tick(), this.intervalMs);
    timer.unref();
    this.timers.add(timer);
    void tick();
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers.clear();
  }
}
