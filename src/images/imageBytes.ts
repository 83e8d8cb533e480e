/**
 * What kind of image a buffer holds, and its size, read from the first bytes. Engines answer in
 * the format they are set to (AUTOMATIC1111's "samples format" may be PNG, JPEG or WebP), so a
 * caller names an upload and checks what it got by looking, not by trusting a field.
 */

export type ImageMime = "image/png" | "image/jpeg" | "image/webp";

export interface ImageBytesInfo {
  mime: ImageMime;
  /** Pixels, when the header says (PNG, JPEG, WebP). */
  width?: number;
  height?: number;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The file extension for a type: `png`, `jpg`, `webp`. */
export function imageExtension(mime: ImageMime): string {
  return mime === "image/png" ? "png" : mime === "image/jpeg" ? "jpg" : "webp";
}

/** The type and size of an image, or undefined when the bytes are not a PNG, JPEG or WebP image. */
export function inspectImage(bytes: Buffer): ImageBytesInfo | undefined {
  if (bytes.length >= 24 && bytes.subarray(0, 8).equals(PNG_SIGNATURE)) {
    // The first chunk is IHDR: length(4) "IHDR"(4) width(4) height(4).
    if (bytes.toString("latin1", 12, 16) !== "IHDR") return { mime: "image/png" };
    return { mime: "image/png", width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
  }
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return { mime: "image/jpeg", ...jpegSize(bytes) };
  if (bytes.length >= 16 && bytes.toString("latin1", 0, 4) === "RIFF" && bytes.toString("latin1", 8, 12) === "WEBP") {
    return { mime: "image/webp", ...webpSize(bytes) };
  }
  return undefined;
}

/** Walks the JPEG segments to the first start-of-frame marker, which holds the size. */
function jpegSize(bytes: Buffer): { width?: number; height?: number } {
  let i = 2;
  while (i + 9 < bytes.length) {
    if (bytes[i] !== 0xff) return {};
    const marker = bytes[i + 1]!;
    if (marker === 0xff) {
      i++;
      continue;
    }
    const length = bytes.readUInt16BE(i + 2);
    // SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: bytes.readUInt16BE(i + 5), width: bytes.readUInt16BE(i + 7) };
    }
    i += 2 + length;
  }
  return {};
}

function webpSize(bytes: Buffer): { width?: number; height?: number } {
  const chunk = bytes.toString("latin1", 12, 16);
  if (chunk === "VP8X" && bytes.length >= 30) return { width: 1 + bytes.readUIntLE(24, 3), height: 1 + bytes.readUIntLE(27, 3) };
  if (chunk === "VP8 " && bytes.length >= 30) return { width: bytes.readUInt16LE(26) & 0x3fff, height: bytes.readUInt16LE(28) & 0x3fff };
  if (chunk === "VP8L" && bytes.length >= 25) {
    const b = bytes.readUInt32LE(21);
    return { width: (b & 0x3fff) + 1, height: ((b >> 14) & 0x3fff) + 1 };
  }
  return {};
}

/**
 * Decodes an engine's base64 image (a bare string, or a `data:image/…;base64,` URL as some servers
 * send) and checks it is an image; undefined when it is not.
 */
export function decodeBase64Image(text: string): { bytes: Buffer; info: ImageBytesInfo } | undefined {
  const comma = text.startsWith("data:") ? text.indexOf(",") : -1;
  const bytes = Buffer.from(comma >= 0 ? text.slice(comma + 1) : text, "base64");
  const info = inspectImage(bytes);
  return info ? { bytes, info } : undefined;
}
