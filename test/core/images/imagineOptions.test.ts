/** /imagine options: every refusal names what is allowed; defaults apply; Slack-style `key:value` text parses. */
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.ts";
import { ImageOptionRejectedError, InputRejectedError } from "../../../src/errors.ts";
import {
  describeSizes,
  type ImagineInput,
  type ImagineLimits,
  imagineLimits,
  MAX_SEED,
  randomSeed,
  validateImagine,
} from "../../../src/images/imagineOptions.ts";
import { parseImagineText } from "../../../src/images/parseImagineText.ts";

const LIMITS: ImagineLimits = imagineLimits(
  loadConfig({
    IMAGE_SIZES: "512x512,768x512,512x768",
    IMAGE_DEFAULT_SIZE: "512x512",
    IMAGE_MAX_STEPS: "40",
    IMAGE_MAX_PROMPT_CHARS: "100",
  }),
);

function refusal(input: ImagineInput): ImageOptionRejectedError {
  try {
    validateImagine(input, LIMITS, () => 7);
  } catch (err) {
    expect(err).toBeInstanceOf(ImageOptionRejectedError);
    // The intake's InputRejectedError path shows userMessage to the user.
    expect(err).toBeInstanceOf(InputRejectedError);
    return err as ImageOptionRejectedError;
  }
  throw new Error(`expected a refusal for ${JSON.stringify(input)}`);
}

describe("validateImagine", () => {
  it("applies the defaults and draws a seed when none is given", () => {
    expect(validateImagine({ prompt: "  a cat\r\non the moon " }, LIMITS, () => 99)).toEqual({
      prompt: "a cat\non the moon",
      negativePrompt: "",
      width: 512,
      height: 512,
      steps: 20,
      seed: 99,
      seedWasRandom: true,
    });
  });

  it("takes every option as typed (strings) or picked (numbers)", () => {
    expect(validateImagine({ prompt: "x", negativePrompt: " blurry ", size: "768X512", steps: "40", seed: "0" }, LIMITS)).toMatchObject({
      negativePrompt: "blurry",
      width: 768,
      height: 512,
      steps: 40,
      seed: 0,
      seedWasRandom: false,
    });
    expect(validateImagine({ prompt: "x", size: "512 × 768", steps: 1, seed: MAX_SEED }, LIMITS)).toMatchObject({
      width: 512,
      height: 768,
      steps: 1,
      seed: MAX_SEED,
    });
  });

  it("`random`, -1 and blanks draw a seed", () => {
    for (const seed of ["random", "RANDOM", -1, "-1", "", "  "]) {
      expect(validateImagine({ prompt: "x", seed }, LIMITS, () => 5)).toMatchObject({ seed: 5, seedWasRandom: true });
    }
  });

  it("refuses an empty prompt", () => {
    for (const prompt of [undefined, "", "   ", "\u0000\u0007"]) {
      const err = refusal({ prompt });
      expect(err).toMatchObject({ code: "EMPTY_MESSAGE", field: "prompt" });
      expect(err.userMessage).toMatch(/Describe the image/);
    }
  });

  it("refuses a prompt or a negative prompt over the limit, naming both lengths", () => {
    expect(validateImagine({ prompt: "a".repeat(100) }, LIMITS).prompt).toHaveLength(100);
    const long = refusal({ prompt: "a".repeat(101) });
    expect(long).toMatchObject({ code: "MESSAGE_TOO_LONG", field: "prompt" });
    expect(long.userMessage).toBe("The prompt is 101 characters long; the most is 100.");
    const neg = refusal({ prompt: "x", negativePrompt: "b".repeat(150) });
    expect(neg).toMatchObject({ code: "MESSAGE_TOO_LONG", field: "negativePrompt" });
    expect(neg.userMessage).toBe("The negative prompt is 150 characters long; the most is 100.");
    // Characters, not UTF-16 units: 100 emoji fit.
    expect(validateImagine({ prompt: "🦊".repeat(100) }, LIMITS).prompt).toHaveLength(200);
  });

  it("refuses a size that is not offered or not a size, listing the choices", () => {
    const off = refusal({ prompt: "x", size: "1024x1024" });
    expect(off).toMatchObject({ code: "IMAGE_OPTION_INVALID", field: "size" });
    expect(off.userMessage).toBe("Size 1024x1024 is not available: choose 512x512, 768x512 or 512x768.");
    const garbage = refusal({ prompt: "x", size: "huge" });
    expect(garbage.userMessage).toBe('Size "huge" is not WIDTHxHEIGHT: choose 512x512, 768x512 or 512x768.');
    expect(refusal({ prompt: "x", size: "512x512x3" }).field).toBe("size");
  });

  it("refuses steps outside 1 to the maximum, or not whole numbers", () => {
    for (const steps of [0, "0", 41, "41", "-3", "2.5", 2.5, "ten", "1e3", Number.NaN]) {
      const err = refusal({ prompt: "x", steps });
      expect(err).toMatchObject({ code: "IMAGE_OPTION_INVALID", field: "steps" });
      expect(err.userMessage).toMatch(/^Steps must be a whole number from 1 to 40; got /);
    }
    expect(refusal({ prompt: "x", steps: "41" }).userMessage).toBe('Steps must be a whole number from 1 to 40; got "41".');
  });

  it("refuses seeds outside 0 to 4294967295 (-1 excepted), or not whole numbers", () => {
    for (const seed of [MAX_SEED + 1, "4294967296", -2, "-5", "1.5", "abc", "0x10"]) {
      const err = refusal({ prompt: "x", seed });
      expect(err).toMatchObject({ code: "IMAGE_OPTION_INVALID", field: "seed" });
      expect(err.userMessage).toMatch(/^Seed must be a whole number from 0 to 4294967295, or "random"; got /);
    }
  });

  it("checks the prompt before the options", () => {
    expect(refusal({ prompt: "", size: "1x1", steps: 0 }).field).toBe("prompt");
  });

  it("random seeds are within range", () => {
    for (let i = 0; i < 50; i++) {
      const s = randomSeed();
      expect(Number.isInteger(s) && s >= 0 && s <= MAX_SEED).toBe(true);
    }
  });

  it("describeSizes reads naturally", () => {
    expect(describeSizes([{ width: 512, height: 512 }])).toBe("512x512");
    expect(describeSizes(LIMITS.sizes)).toBe("512x512, 768x512 or 512x768");
  });
});

describe("parseImagineText (Slack's `/imagine` text)", () => {
  it("takes the options out and leaves the prompt", () => {
    expect(parseImagineText("a cat on the moon size:768x512 steps:30 seed:42 no:blurry")).toEqual({
      prompt: "a cat on the moon",
      size: "768x512",
      steps: "30",
      seed: "42",
      negativePrompt: "blurry",
    });
  });

  it("finds options anywhere, any case, with a blank after the colon, quoted (straight or curly) values", () => {
    expect(parseImagineText('Size: 512x768 a lighthouse NO:"text, watermark" at dawn step:12 neg:“low quality”')).toEqual({
      prompt: "a lighthouse at dawn",
      size: "512x768",
      steps: "12",
      negativePrompt: "text, watermark, low quality",
    });
  });

  it("repeated `no:` adds up; other words with colons stay in the prompt", () => {
    expect(parseImagineText("ratio:16:9 https://example.com/x no:blurry no:text a:b")).toEqual({
      prompt: "ratio:16:9 https://example.com/x a:b",
      negativePrompt: "blurry, text",
    });
  });

  it("a prompt of options only is empty (validation then refuses it)", () => {
    const input = parseImagineText("size:512x512 steps:20");
    expect(input.prompt).toBe("");
    expect(() => validateImagine(input, LIMITS)).toThrow(/Describe the image/);
  });

  it("refuses a key without a value, and size/steps/seed given twice", () => {
    for (const [text, field, message] of [
      ["a cat seed:", "seed", "`seed:` needs a value, e.g. `seed:42`."],
      ["a cat no: steps:3", "negativePrompt", '`no:` needs a value, e.g. `no:"blurry, text"`.'],
      ["a cat size:512x512 size:768x512", "size", "`size:` is given twice; give it once."],
      ["steps:3 a cat step:4", "steps", "`steps:` is given twice; give it once."],
    ] as const) {
      let caught: unknown;
      try {
        parseImagineText(text);
      } catch (err) {
        caught = err;
      }
      expect(caught, text).toBeInstanceOf(ImageOptionRejectedError);
      expect(caught).toMatchObject({ code: "IMAGE_OPTION_INVALID", field, userMessage: message });
    }
  });

  it("values are checked by validateImagine, with the same refusals", () => {
    const input = parseImagineText("a cat steps:500");
    expect(() => validateImagine(input, LIMITS)).toThrow('Steps must be a whole number from 1 to 40; got "500".');
  });
});
