/** Slack message timestamps (`"1712345678.000123"`): unique and increasing across the simulator, and their order. */

export class TsClock {
  private lastMicros = 0;

  /** The next ts: now in microseconds, or one more than the last one handed out. */
  next(): string {
    this.lastMicros = Math.max(Date.now() * 1000, this.lastMicros + 1);
    const sec = Math.floor(this.lastMicros / 1_000_000);
    const micros = this.lastMicros % 1_000_000;
    return `${sec}.${String(micros).padStart(6, "0")}`;
  }
}

export function compareTs(a: string, b: string): number {
  const [as = "0", af = "0"] = a.split(".");
  const [bs = "0", bf = "0"] = b.split(".");
  const sec = Number(as) - Number(bs);
  if (sec !== 0) return sec;
  return Number(af.padEnd(6, "0")) - Number(bf.padEnd(6, "0"));
}
