/**
 * The context's sequences and the conversation each one holds.
 *
 * Why: a conversation goes back to the sequence that still holds its tokens, so a follow-up turn
 * evaluates only what is new (conversation → sequence affinity). A conversation with no sequence
 * takes an empty one, else the least recently used, preferring one next to the sequences that are
 * generating (see `acquire`). The pool also tracks the tokens each sequence's state stands for.
 */
import type { LlamaContext, LlamaContextSequence, Token } from "node-llama-cpp";

export interface Slot {
  index: number;
  sequence: LlamaContextSequence;
  conversationKey?: string;
  /**
   * Tokens the conversation in this sequence consists of: its last prompt and the reply generated
   * after it. The sequence state holds them, except perhaps the last generated token.
   */
  known: Token[];
  lastUsed: number;
  busy: boolean;
}

export interface AcquiredSlot {
  slot: Slot;
  /** The conversation that held the sequence before and was pushed out, with the tokens it held. */
  evicted?: { key: string; known: Token[] };
}

export class SequencePool {
  private readonly slots: Slot[] = [];
  private clock = 0;

  /** Takes every sequence the context has left. */
  constructor(context: LlamaContext) {
    while (context.sequencesLeft > 0) {
      const sequence = context.getSequence();
      this.slots.push({ index: this.slots.length, sequence, known: [], lastUsed: 0, busy: false });
    }
  }

  get size(): number {
    return this.slots.length;
  }

  /** Which conversation each sequence holds. */
  holders(): Array<string | undefined> {
    return this.slots.map((s) => s.conversationKey);
  }

  /** The sequence that holds `conversationKey`, if any. */
  sequenceFor(conversationKey: string): LlamaContextSequence | undefined {
    return this.slots.find((s) => s.conversationKey === conversationKey)?.sequence;
  }

  /**
   * Take a free sequence for `conversationKey`: its own; else an empty one; else the least recently
   * used. Among those, one next to the sequences generating now: llama.cpp decodes a batch in one
   * pass only over consecutive sequence ids (see StepBarrier), so a gap costs a pass per step.
   */
  acquire(conversationKey: string): AcquiredSlot {
    const free = this.slots.filter((s) => !s.busy);
    if (free.length === 0) throw new Error("no free sequence: more concurrent generations than WORKER_CONCURRENCY");
    let slot = free.find((s) => s.conversationKey === conversationKey);
    if (!slot) {
      const busy = this.slots.filter((s) => s.busy).map((s) => s.index);
      const runs = (extra: number) => {
        const ids = [...busy, extra].sort((a, b) => a - b);
        return ids.filter((id, i) => i === 0 || id !== ids[i - 1]! + 1).length;
      };
      const empty = (s: Slot) => s.conversationKey === undefined && s.sequence.nextTokenIndex === 0;
      slot = free.reduce((best, s) => {
        const e = Number(empty(best)) - Number(empty(s));
        if (e !== 0) return e < 0 ? s : best;
        const r = runs(s.index) - runs(best.index);
        if (r !== 0) return r < 0 ? s : best;
        return s.lastUsed < best.lastUsed ? s : best;
      });
    }
    const evicted =
      slot.conversationKey !== undefined && slot.conversationKey !== conversationKey
        ? { key: slot.conversationKey, known: slot.known }
        : undefined;
    if (slot.conversationKey !== conversationKey) slot.known = [];
    slot.busy = true;
    slot.conversationKey = conversationKey;
    slot.lastUsed = ++this.clock;
    return { slot, evicted };
  }

  /** The sequence's state is unknown (a generation failed): the next user starts it afresh. */
  forget(slot: Slot): void {
    slot.conversationKey = undefined;
    slot.known = [];
  }

  /** The generation on `slot` is over: the sequence is free and the most recently used. */
  release(slot: Slot): void {
    slot.busy = false;
    slot.lastUsed = ++this.clock;
  }
}
