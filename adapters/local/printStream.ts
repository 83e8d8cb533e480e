/** Print streamed snapshots to a terminal as appended text. */
import type { ReplyUpdate } from "../../src/stream/RedisStreamSink.ts";

export class StreamPrinter {
  private printed = "";
  constructor(private readonly write: (s: string) => void) {}

  /** Print what `update` adds to what is already on screen. */
  push(update: ReplyUpdate): void {
    const text = update.text;
    if (text.startsWith(this.printed)) {
      this.write(text.slice(this.printed.length));
    } else {
      // A snapshot that is not an extension (rare: a re-decoded character): show the full text again.
      this.write(`\n${text}`);
    }
    this.printed = text;
    if (update.final) {
      if (update.note) this.write(`${text ? "\n" : ""}(${update.note})`);
      this.write("\n");
    }
  }
}
