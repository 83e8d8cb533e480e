/**
 * Evaluated state of conversations pushed out of their sequence, kept on disk so that a
 * conversation coming back restores its tokens instead of evaluating its whole history again.
 *
 * Files live in a folder of this process (`<dir>/run-<pid>-<random>`; a state file is only valid
 * for the model and context that wrote it), bounded in total size (least recently saved go first),
 * removed when read back, and the folder is removed on close. Folders left behind by processes
 * that are gone are removed when the next cache opens.
 */
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import type { LlamaContextSequence, Token } from "node-llama-cpp";

export interface SequenceStateCacheOptions {
  dir: string;
  /** Most bytes of state files kept at once (default 1 GiB). */
  maxBytes?: number;
  /** Conversations shorter than this many tokens are cheaper to evaluate again than to save (default 64). */
  minTokens?: number;
}

interface Entry {
  file: string;
  bytes: number;
  /** The tokens the conversation's generation knows about (the last generated one may not be in the state). */
  known: Token[];
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export class SequenceStateCache {
  readonly maxBytes: number;
  readonly minTokens: number;
  private readonly entries = new Map<string, Entry>();
  private totalBytes = 0;
  private opening: Promise<string> | undefined;
  private counter = 0;
  /** Saves and restores done (tests, metrics). */
  readonly stats = { saved: 0, restored: 0, dropped: 0, failed: 0 };

  constructor(private readonly opts: SequenceStateCacheOptions) {
    this.maxBytes = opts.maxBytes ?? 1024 ** 3;
    this.minTokens = opts.minTokens ?? 64;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** Conversations whose state is saved. */
  get size(): number {
    return this.entries.size;
  }

  has(conversationKey: string): boolean {
    return this.entries.has(conversationKey);
  }

  private open(): Promise<string> {
    this.opening ??= (async () => {
      await fs.mkdir(this.opts.dir, { recursive: true });
      for (const name of await fs.readdir(this.opts.dir).catch(() => [] as string[])) {
        const m = /^run-(\d+)-/.exec(name);
        if (m && Number(m[1]) !== process.pid && !processAlive(Number(m[1]))) {
          await fs.rm(path.join(this.opts.dir, name), { recursive: true, force: true }).catch(() => {});
        }
      }
      const folder = path.join(this.opts.dir, `run-${process.pid}-${randomUUID().slice(0, 8)}`);
      await fs.mkdir(folder, { recursive: true });
      return folder;
    })();
    return this.opening;
  }

  /**
   * Save what `sequence` holds for `conversationKey`. Returns false when it was not worth it or
   * did not fit; never throws (a failed save only costs a re-evaluation later).
   */
  async save(conversationKey: string, sequence: LlamaContextSequence, known: readonly Token[]): Promise<boolean> {
    if (sequence.nextTokenIndex < this.minTokens) return false;
    await this.drop(conversationKey);
    try {
      const folder = await this.open();
      const file = path.join(folder, `${++this.counter}.state`);
      const { fileSize } = await sequence.saveStateToFile(file);
      if (fileSize > this.maxBytes) {
        await fs.rm(file, { force: true });
        return false;
      }
      while (this.totalBytes + fileSize > this.maxBytes && this.entries.size > 0) {
        const oldest = this.entries.keys().next().value!;
        await this.drop(oldest);
        this.stats.dropped++;
      }
      this.entries.set(conversationKey, { file, bytes: fileSize, known: [...known] });
      this.totalBytes += fileSize;
      this.stats.saved++;
      return true;
    } catch {
      this.stats.failed++;
      return false;
    }
  }

  /**
   * Load `conversationKey`'s saved state into `sequence` and forget the file. Returns the known
   * tokens, or undefined when nothing was saved or loading failed (the sequence is then empty).
   */
  async restore(conversationKey: string, sequence: LlamaContextSequence): Promise<Token[] | undefined> {
    const entry = this.entries.get(conversationKey);
    if (!entry) return undefined;
    this.entries.delete(conversationKey);
    this.totalBytes -= entry.bytes;
    try {
      await sequence.loadStateFromFile(entry.file, { acceptRisk: true });
      this.stats.restored++;
      return entry.known;
    } catch {
      this.stats.failed++;
      await sequence.clearHistory().catch(() => {});
      return undefined;
    } finally {
      await fs.rm(entry.file, { force: true }).catch(() => {});
    }
  }

  /** Forget a conversation's saved state. */
  async drop(conversationKey: string): Promise<void> {
    const entry = this.entries.get(conversationKey);
    if (!entry) return;
    this.entries.delete(conversationKey);
    this.totalBytes -= entry.bytes;
    await fs.rm(entry.file, { force: true }).catch(() => {});
  }

  async close(): Promise<void> {
    this.entries.clear();
    this.totalBytes = 0;
    if (this.opening) {
      const folder = await this.opening.catch(() => undefined);
      if (folder) await fs.rm(folder, { recursive: true, force: true }).catch(() => {});
    }
    this.opening = undefined;
  }
}
