/**
 * The slash commands, registered (bulk overwrite) when the adapter starts: `/ask`, `/reset`,
 * `/help`, `/settings` (DiscordSettingsCommand.ts) and `/imagine` — registered even without an
 * image engine, so people learn it exists (it then answers how the operator can set one up).
 */
import type { RESTPostAPIApplicationCommandsJSONBody } from "discord.js";
import type { Config } from "../../src/config.ts";
import { MAX_SEED } from "../../src/images/imagineOptions.ts";
import { settingsCommandDefinition } from "./DiscordSettingsCommand.ts";

/** The longest string option Discord lets a command carry. */
const DISCORD_OPTION_MAX = 6000;
/** Most choices of one option. */
const CHOICES_MAX = 25;

export type CommandConfig = Pick<
  Config,
  "DISCORD_ALLOW_DMS" | "MAX_INPUT_CHARS" | "IMAGE_SIZES" | "IMAGE_MAX_STEPS" | "IMAGE_MAX_PROMPT_CHARS"
>;

export function discordCommands(config: CommandConfig): RESTPostAPIApplicationCommandsJSONBody[] {
  const contexts = config.DISCORD_ALLOW_DMS ? [0, 1] : [0];
  const promptMax = Math.min(DISCORD_OPTION_MAX, config.IMAGE_MAX_PROMPT_CHARS);
  return [
    {
      name: "ask",
      description: "Ask the model a question (the same as mentioning me)",
      options: [
        {
          type: 3,
          name: "prompt",
          description: "Your question",
          required: true,
          max_length: Math.min(DISCORD_OPTION_MAX, config.MAX_INPUT_CHARS),
        },
      ],
      contexts,
      integration_types: [0],
    },
    { name: "reset", description: "Forget this channel's (or thread's, or DM's) conversation", contexts, integration_types: [0] },
    { name: "help", description: "How to talk to me here, my commands, and this channel's settings", contexts, integration_types: [0] },
    settingsCommandDefinition(),
    {
      name: "imagine",
      description: "Make a picture from a description (Stable Diffusion)",
      options: [
        { type: 3, name: "prompt", description: "What the picture shows", required: true, max_length: promptMax },
        { type: 3, name: "negative", description: "What it should not show", max_length: promptMax },
        {
          type: 3,
          name: "size",
          description: "Width × height in pixels",
          choices: config.IMAGE_SIZES.slice(0, CHOICES_MAX).map((s) => ({ name: s, value: s })),
        },
        { type: 4, name: "steps", description: `Denoising steps (1 to ${config.IMAGE_MAX_STEPS})` },
        { type: 4, name: "seed", description: `A seed to make the same picture again (0 to ${MAX_SEED}; default random)` },
      ],
      contexts,
      integration_types: [0],
    },
  ] as RESTPostAPIApplicationCommandsJSONBody[];
}
