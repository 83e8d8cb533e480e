/** What every platform adapter gets and gives back (Discord, Slack). */
import type { Redis } from "ioredis";
import type { Config } from "../config.ts";
import type { Keys } from "../keys.ts";
import type { Logger } from "../logger.ts";
import type { ConversationMemory } from "../memory/ConversationMemory.ts";
import type { Ingestor } from "../queue/Ingestor.ts";
import type { SettingsStore } from "../settings/SettingsStore.ts";
import type { ImagineIntake } from "./ImagineIntake.ts";

export interface AdapterDeps {
  config: Config;
  logger: Logger;
  /** Producer connection: fails fast while Redis is down. */
  redis: Redis;
  keys: Keys;
  ingestor: Ingestor;
  memory: ConversationMemory;
  /** /imagine: the image lane's intake (absent in tests that do not need it). */
  imagine?: ImagineIntake;
  /** Per-place settings (admin commands, intake checks); absent: the defaults apply everywhere. */
  settings?: SettingsStore;
}

export interface RunningAdapter {
  readonly platform: "discord" | "slack";
  /** Connected to the platform and able to take messages. */
  ready(): boolean;
  close(): Promise<void>;
}
