/** The variables of `/imagine`: the image engine, its defaults and limits. */
import { z } from "zod";
import { imageSizeSetting as imageSize } from "../images/imageSize.ts";
import { httpUrl, int, list } from "./configValues.ts";

export const images = {
  IMAGE_ENGINE: z
    .enum(["none", "a1111", "openai"])
    .default("none")
    .describe(
      "The image engine behind `/imagine`: `none` (the command answers how to set one up), `a1111` (the AUTOMATIC1111 API, also served by Forge and SD.Next: previews while it works, Stop) or `openai` (`/v1/images/generations`, as served by stable-diffusion.cpp's `sd-server` and LocalAI: no previews).",
    ),
  IMAGE_API_URL: httpUrl.optional().meta({
    description:
      "Base URL of the image engine: the web UI's address for `a1111`; for `openai`, the API base (`/v1` is added when the URL has no path).",
    unset: "`http://127.0.0.1:7860` (a1111), `http://127.0.0.1:1234/v1` (openai: sd-server's default port)",
  }),
  IMAGE_API_KEY: z.string().trim().optional().meta({
    description:
      "Credentials for the image engine: `user:password` for AUTOMATIC1111's `--api-auth` (sent as HTTP Basic), anything else as a Bearer token.",
    unset: "none sent",
  }),
  IMAGE_MODEL: z.string().trim().optional().meta({
    description: "`openai` engine: the `model` field of each request (LocalAI: the model's name; sd-server ignores it).",
    unset: "not sent (the server's default model)",
  }),
  IMAGE_OPENAI_DIALECT: z
    .enum(["sdcpp", "localai", "plain"])
    .default("sdcpp")
    .describe(
      "`openai` engine: how the negative prompt, seed and steps travel, which the OpenAI API has no fields for: `sdcpp` (stable-diffusion.cpp's `<sd_cpp_extra_args>` block in the prompt), `localai` (`step` and `seed` fields, the negative prompt after a `|`), `plain` (not sent: the server's defaults apply and the seed is unknown).",
    ),
  IMAGE_SIZES: list
    .pipe(z.array(imageSize).min(1, "must list at least one size"))
    .default(["512x512", "512x768", "768x512", "768x768", "1024x1024"])
    .describe(
      "Comma-separated sizes users may ask for (`WIDTHxHEIGHT`, each side 64–2048 and a multiple of 8); others are refused with this list.",
    ),
  IMAGE_DEFAULT_SIZE: imageSize.default("512x512").describe("Size of an image when none is asked for; one of `IMAGE_SIZES`."),
  IMAGE_DEFAULT_STEPS: int(1, 150).default(20).describe("Denoising steps when none are asked for; at most `IMAGE_MAX_STEPS`."),
  IMAGE_MAX_STEPS: int(1, 150).default(50).describe("Most denoising steps a user may ask for (more take longer, rarely look better)."),
  IMAGE_SAMPLER: z.string().trim().optional().meta({
    description:
      "Sampler name sent with each request (AUTOMATIC1111: e.g. `Euler a`, `DPM++ 2M`; sd-server: e.g. `euler_a`, `dpm++2m`); the `localai` dialect has no field for it.",
    unset: "the engine's default",
  }),
  IMAGE_MAX_PROMPT_CHARS: int(1, 100_000)
    .default(1000)
    .describe("Longest prompt (and negative prompt) accepted, in characters; longer ones are refused."),
  IMAGE_TIMEOUT_MS: int(1000)
    .default(300_000)
    .describe("A generation still running after this long is stopped (the engine is interrupted where it can be) and the user told."),
  IMAGE_PREVIEW_INTERVAL_MS: int(100, 60_000)
    .default(1000)
    .describe("How often the engine's progress (step and preview image) is polled while it works (`a1111` only)."),
};
