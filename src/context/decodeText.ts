/**
 * Bytes of a downloaded file → text for the prompt, or the verdict that it is not text. A text
 * extension is only a claim: NUL bytes, many control characters or mostly invalid UTF-8 mean
 * binary content, refused with a note. UTF-8 (with or without a BOM) and UTF-16 with a BOM are
 * decoded; a few invalid UTF-8 bytes (a Latin-1 file, a damaged one) are replaced with U+FFFD and
 * the note says so. A cut download never ends in half a character.
 */

export type DecodedText = { binary: true; reason: string } | { binary: false; text: string; note?: string };

/** More control characters than this share of the text: binary. */
const MAX_BAD_SHARE = 0.1;
/** More invalid UTF-8 than this share of the characters: binary (a Latin-1 text with accents stays well under it). */
const MAX_INVALID_SHARE = 0.3;

/**
 * @param bytes the file, or its first part
 * @param complete false when `bytes` is only the start of the file (a character cut at the end is dropped)
 */
export function decodeText(bytes: Uint8Array, complete: boolean): DecodedText {
  let encoding: "utf-8" | "utf-16le" | "utf-16be" = "utf-8";
  let start = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
  else if (bytes[0] === 0xff && bytes[1] === 0xfe) [encoding, start] = ["utf-16le", 2];
  else if (bytes[0] === 0xfe && bytes[1] === 0xff) [encoding, start] = ["utf-16be", 2];
  const body = bytes.subarray(start);
  if (encoding === "utf-8" && body.includes(0)) return { binary: true, reason: "it contains NUL bytes" };

  const decoder = new TextDecoder(encoding, { fatal: false, ignoreBOM: true });
  // Streaming mode holds back an incomplete character at the end instead of replacing it.
  const text = complete ? decoder.decode(body) : decoder.decode(body, { stream: true });
  if (text.length === 0) return { binary: false, text };

  let replaced = 0;
  let control = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0xfffd) replaced++;
    else if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x0c) || c === 0x7f) control++;
  }
  if (control / text.length > MAX_BAD_SHARE) return { binary: true, reason: "it is mostly control characters" };
  if (replaced / text.length > MAX_INVALID_SHARE) return { binary: true, reason: "it is not valid UTF-8 text" };
  if (replaced > 0) {
    const what = encoding === "utf-8" ? "UTF-8" : "UTF-16";
    return { binary: false, text, note: `not valid ${what} in ${replaced} ${replaced === 1 ? "place" : "places"} (shown as �)` };
  }
  return { binary: false, text };
}
