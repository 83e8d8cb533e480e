/** The IMAGE_* settings: defaults, sizes checked on their own and against each other, the key kept out of logs. */
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.ts";
import { ConfigError } from "../../../src/errors.ts";
import { inspectImage } from "../../../src/images/imageBytes.ts";
import { imageSizeProblem, parseImageSize } from "../../../src/images/imageSize.ts";
import { secretValues } from "../../../src/logger.ts";

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

describe("IMAGE_* configuration", () => {
  it("defaults: no engine, 512x512 among five sizes, 20 of at most 50 steps", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      IMAGE_ENGINE: "none",
      IMAGE_OPENAI_DIALECT: "sdcpp",
      IMAGE_SIZES: ["512x512", "512x768", "768x512", "768x768", "1024x1024"],
      IMAGE_DEFAULT_SIZE: "512x512",
      IMAGE_DEFAULT_STEPS: 20,
      IMAGE_MAX_STEPS: 50,
      IMAGE_MAX_PROMPT_CHARS: 1000,
      IMAGE_TIMEOUT_MS: 300_000,
      IMAGE_PREVIEW_INTERVAL_MS: 1000,
    });
    expect(c.IMAGE_API_URL).toBeUndefined();
  });

  it("normalizes sizes as written (768X512, 640 × 384)", () => {
    const c = loadConfig({ IMAGE_SIZES: " 768X512 , 640 × 384 ", IMAGE_DEFAULT_SIZE: "640x384" });
    expect(c.IMAGE_SIZES).toEqual(["768x512", "640x384"]);
    expect(c.IMAGE_DEFAULT_SIZE).toBe("640x384");
  });

  it("refuses sizes that are not sizes, off the 8-pixel grid, or out of 64–2048", () => {
    expect(configError({ IMAGE_SIZES: "big" }).message).toBe('IMAGE_SIZES: must be WIDTHxHEIGHT, e.g. 512x512 (got "big")');
    expect(configError({ IMAGE_SIZES: "512x500" }).message).toContain("multiple of 8");
    expect(configError({ IMAGE_SIZES: "4096x4096" }).message).toContain("64–2048");
    expect(configError({ IMAGE_SIZES: " , " }).variable).toBe("IMAGE_SIZES");
    expect(configError({ IMAGE_DEFAULT_SIZE: "1x1" }).variable).toBe("IMAGE_DEFAULT_SIZE");
  });

  it("the defaults must lie within the limits", () => {
    const size = configError({ IMAGE_SIZES: "512x512,768x768", IMAGE_DEFAULT_SIZE: "1024x1024" });
    expect(size.message).toBe('IMAGE_DEFAULT_SIZE: must be one of IMAGE_SIZES (512x512, 768x768); got "1024x1024"');
    expect(configError({ IMAGE_DEFAULT_STEPS: "30", IMAGE_MAX_STEPS: "25" }).message).toBe(
      "IMAGE_DEFAULT_STEPS: must be at most IMAGE_MAX_STEPS (25); got 30",
    );
    expect(configError({ IMAGE_ENGINE: "comfyui" }).variable).toBe("IMAGE_ENGINE");
    expect(configError({ IMAGE_OPENAI_DIALECT: "dalle" }).variable).toBe("IMAGE_OPENAI_DIALECT");
    expect(configError({ IMAGE_API_URL: "localhost:7860" }).variable).toBe("IMAGE_API_URL");
    expect(configError({ IMAGE_PREVIEW_INTERVAL_MS: "10" }).variable).toBe("IMAGE_PREVIEW_INTERVAL_MS");
  });

  it("IMAGE_API_KEY is a secret: scrubbed from logs, never echoed in config errors", () => {
    const key = "sd-user:very-secret-pass";
    expect(secretValues(loadConfig({ IMAGE_API_KEY: key }))).toContain(key);
    expect(configError({ IMAGE_API_KEY: key, IMAGE_MAX_STEPS: "x" }).message).not.toContain(key);
  });
});

describe("image sizes and bytes", () => {
  it("parses sizes people write and says what engines cannot do", () => {
    expect(parseImageSize("768x512")).toEqual({ width: 768, height: 512 });
    expect(parseImageSize("768*512")).toEqual({ width: 768, height: 512 });
    expect(parseImageSize("768")).toBeUndefined();
    expect(imageSizeProblem({ width: 512, height: 512 })).toBeUndefined();
    expect(imageSizeProblem({ width: 32, height: 512 })).toMatch(/64–2048/);
  });

  it("tells PNG, JPEG and WebP apart by their bytes, with the size where the header has it", () => {
    // JPEG: SOI, an APP0 segment, then SOF0 with height 300 and width 400.
    const jpeg = Buffer.from([
      0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x01, 0x2c, 0x01, 0x90, 0x03, 0, 0, 0, 0,
    ]);
    expect(inspectImage(jpeg)).toEqual({ mime: "image/jpeg", width: 400, height: 300 });
    // WebP lossless (VP8L): width-1 and height-1 in 14-bit fields after the 0x2f signature.
    const vp8l = Buffer.alloc(30);
    vp8l.write("RIFF", 0, "latin1");
    vp8l.write("WEBP", 8, "latin1");
    vp8l.write("VP8L", 12, "latin1");
    vp8l[20] = 0x2f;
    vp8l.writeUInt32LE((640 - 1) | ((480 - 1) << 14), 21);
    expect(inspectImage(vp8l)).toEqual({ mime: "image/webp", width: 640, height: 480 });
    expect(inspectImage(Buffer.from("GIF89a........"))).toBeUndefined();
    expect(inspectImage(Buffer.alloc(0))).toBeUndefined();
  });
});
