/**
 * One "conversation X has work" job, from whichever queue it came (the shared one or the worker's
 * own): take the conversation's lease (one attempt at a time answers it; while another holds it,
 * this job is put back for a moment — as it is when this worker is saturated and another
 * announces room), answer the head of its inbox (or drop a reservation that ran out, or an
 * expired request), give the lease back, and signal the conversation again when more messages
 * wait — routed like an adapter's signal, so it stays on this worker while it has room.
 */
import { DelayedError, type Job } from "bullmq";
import type { Logger } from "../src/logger.ts";
import type { ConversationInbox, JobLock } from "../src/queue/ConversationInbox.ts";
import type { ConversationLease } from "../src/queue/ConversationLease.ts";
import type { WorkerRoutes } from "../src/queue/WorkerRoutes.ts";
import type { PlaceNotifier } from "../src/stream/PlaceNotifier.ts";
import type { ChatRequest, ConversationKey } from "../src/types.ts";

/** A job put back (its conversation's lease is held, or it is better started elsewhere) is due again this much later. */
export const RETRY_MS = 100;

export interface ConversationJobContext {
  inbox: ConversationInbox;
  lease: ConversationLease;
  routes: WorkerRoutes;
  places: PlaceNotifier;
  log: Logger;
  /** True when this job should rather go to another worker (this one is saturated, another has room). */
  elsewhere(queue: string): Promise<boolean>;
  answer(request: ChatRequest, lock: JobLock | undefined, jobId: string | undefined): Promise<void>;
  /** A request of `conv` was answered by this attempt (affinity). */
  answered(conv: ConversationKey): Promise<void>;
}

export async function runConversationJob(
  ctx: ConversationJobContext,
  job: Job<{ conversationKey: string }>,
  token: string | undefined,
  queue: string,
): Promise<void> {
  const { inbox, lease, log } = ctx;
  const conv = job.data.conversationKey;
  const lock = token && job.id ? lease.lockFor(conv, { jobId: job.id, token, queue }) : undefined;
  // Another attempt answers this conversation now (its job came through another queue), or this
  // worker has no free sequence while another has one: back to the queue for a moment.
  if (lock && ((await ctx.elsewhere(queue)) || !(await lease.take(lock)))) {
    await job.moveToDelayed(Date.now() + RETRY_MS, token);
    throw new DelayedError();
  }
  try {
    const head = await inbox.head(conv);
    if (!head) return;
    if (head.reserved) {
      // Its placeholder is being posted; attaching it wakes this conversation again. A reservation
      // that ran out (the adapter died in between) is dropped, and the line moves on.
      if (!(await inbox.release(conv, head.requestId, true))) return;
      log.warn({ requestId: head.requestId, conversation: conv }, "a reserved place was never given its placeholder; dropped");
    } else if (head.request) {
      await ctx.answer(head.request, lock, job.id);
      await ctx.answered(conv);
    } else {
      log.warn({ requestId: head.requestId, conversation: conv }, "request expired before it was answered; dropping it");
      await inbox.dropExpired(conv, head.requestId);
    }
  } finally {
    // Given back before looking for more, so a job signalled meanwhile finds it free.
    if (lock) await lease.release(lock).catch(() => undefined);
  }
  if ((await inbox.pending(conv)) > 0) {
    await ctx.routes.wake(conv);
    // The line moved: the messages behind the next one are told (coalesced, fenced on their place).
    ctx.places.offer(await inbox.waiting(conv, 20).catch(() => []));
  }
}
