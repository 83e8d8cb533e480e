/** The stand-in's PNG encoder writes valid PNGs: signature, IHDR, CRCs, zlib stream, rows — read back independently. */
import { inflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { inspectImage } from "../../../src/images/imageBytes.ts";
import { renderClean, renderStep } from "../../sim/images/pattern.ts";
import { crc32, decodePng, encodePng, meanAbsDiff, PNG_SIGNATURE, roughness } from "../../sim/images/png.ts";

/** Walks the chunks with nothing from png.ts but the byte layout of the spec. */
function chunksOf(png: Buffer): { type: string; data: Buffer; crcOk: boolean }[] {
  const out = [];
  for (let o = 8; o < png.length; ) {
    const length = png.readUInt32BE(o);
    const type = png.toString("latin1", o + 4, o + 8);
    const data = png.subarray(o + 8, o + 8 + length);
    out.push({ type, data, crcOk: png.readUInt32BE(o + 8 + length) === crc32(png.subarray(o + 4, o + 8 + length)) });
    o += 12 + length;
  }
  return out;
}

describe("PNG encoder (test/sim/images/png.ts)", () => {
  it("CRC-32 matches the standard check value", () => {
    expect(crc32(Buffer.from("123456789", "latin1"))).toBe(0xcbf43926);
    // The IEND chunk's CRC every PNG ends with.
    expect(crc32(Buffer.from("IEND", "latin1"))).toBe(0xae426082);
  });

  it("writes the signature, IHDR (8-bit RGB), IDAT and IEND with valid CRCs", () => {
    const image = renderClean(1234, 40, 24);
    const png = encodePng(image, { parameters: "a cat, Steps: 20" });
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    const chunks = chunksOf(png);
    expect(chunks.map((c) => c.type)).toEqual(["IHDR", "tEXt", "IDAT", "IEND"]);
    expect(chunks.every((c) => c.crcOk)).toBe(true);
    const ihdr = chunks[0]!.data;
    expect([ihdr.readUInt32BE(0), ihdr.readUInt32BE(4), ihdr[8], ihdr[9], ihdr[10], ihdr[11], ihdr[12]]).toEqual([40, 24, 8, 2, 0, 0, 0]);
    expect(png.subarray(-12).toString("hex")).toBe("0000000049454e44ae426082");
  });

  it("stores the pixels as zlib-compressed filtered rows", () => {
    const image = renderStep(99, 17, 9, 3, 10);
    const png = encodePng(image);
    const raw = inflateSync(
      Buffer.concat(
        chunksOf(png)
          .filter((c) => c.type === "IDAT")
          .map((c) => c.data),
      ),
    );
    expect(raw.length).toBe((17 * 3 + 1) * 9);
    for (let y = 0; y < 9; y++) {
      expect(raw[y * 52]).toBe(0);
      expect(Buffer.from(raw.subarray(y * 52 + 1, (y + 1) * 52)).equals(Buffer.from(image.rgb.subarray(y * 51, (y + 1) * 51)))).toBe(true);
    }
  });

  it("round-trips through the decoder, and the product's header reader sees the size", () => {
    const image = renderClean(7, 64, 48);
    const decoded = decodePng(encodePng(image, { parameters: "x" }));
    expect([decoded.width, decoded.height]).toEqual([64, 48]);
    expect(Buffer.from(decoded.rgb).equals(Buffer.from(image.rgb))).toBe(true);
    expect(decoded.text).toEqual({ parameters: "x" });
    expect(inspectImage(encodePng(image))).toEqual({ mime: "image/png", width: 64, height: 48 });
  });

  it("the decoder refuses a corrupted PNG", () => {
    const png = encodePng(renderClean(3, 8, 8));
    const bad = Buffer.from(png);
    bad[45] = (bad[45]! + 1) & 0xff; // inside IDAT (it starts at 33: signature 8 + IHDR 25)
    expect(() => decodePng(bad)).toThrow(/CRC/);
    expect(() => decodePng(png.subarray(0, 30))).toThrow();
    expect(() => decodePng(Buffer.from("not a png at all"))).toThrow(/signature/);
  });

  it("rejects RGB data of the wrong length", () => {
    expect(() => encodePng({ width: 4, height: 4, rgb: new Uint8Array(10) })).toThrow(/48 bytes/);
  });
});

describe("the stand-in's pattern", () => {
  it("is deterministic per seed and differs between seeds", () => {
    expect(meanAbsDiff(renderClean(5, 32, 32), renderClean(5, 32, 32))).toBe(0);
    expect(meanAbsDiff(renderClean(5, 32, 32), renderClean(6, 32, 32))).toBeGreaterThan(5);
  });

  it("sharpens step by step: closer to the final image and smoother at every step, clean at the last", () => {
    const final = renderClean(42, 48, 48);
    const distances = [0, 2, 4, 6, 8, 10].map((k) => meanAbsDiff(renderStep(42, 48, 48, k, 10), final));
    for (let i = 1; i < distances.length; i++) expect(distances[i]!).toBeLessThan(distances[i - 1]!);
    expect(distances.at(-1)).toBe(0);
    expect(roughness(renderStep(42, 48, 48, 1, 10))).toBeGreaterThan(roughness(renderStep(42, 48, 48, 9, 10)) * 3);
  });
});
