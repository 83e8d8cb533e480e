/**
 * The image queue (BullMQ queue `images`), as producers and workers open it: one job per
 * conversation with images waiting (deduplicated by conversation key, the same job options as
 * text: src/queue/Ingestor.ts jobOptionsFor), answered by image workers.
 */
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { IMAGE_QUEUE_NAME, type Keys } from "../keys.ts";

export function createImageQueue(redis: Redis, keys: Keys): Queue {
  return new Queue(IMAGE_QUEUE_NAME, { connection: redis, prefix: keys.bull });
}
