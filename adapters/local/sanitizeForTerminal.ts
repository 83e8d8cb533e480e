/**
 * Model output is untrusted text: written to a terminal raw, an escape sequence in it can clear the
 * screen, move the cursor over earlier lines, retitle the window, or worse. Before the terminal
 * prints it, every escape sequence and every control character except newline and tab is removed.
 *
 * Works on growing snapshots: a sequence cut off at the end of one snapshot is removed as well,
 * so the clean text of a snapshot is a prefix of the clean text of the next one.
 */

/** CSI: ESC [ parameters intermediates final — or cut off at the end. */
const CSI = /\x1b\[[0-?]*[ -/]*(?:[@-~]|$)/g;
/** OSC, DCS, SOS, PM, APC strings: up to BEL or ESC \ (or, unterminated, to the end of the line). */
const STRING = /\x1b[\]PX^_][^\x07\x1b\n]*(?:\x07|\x1b\\)?/g;
/** Any other escape: ESC, intermediates, one final character (or cut off). */
const ESCAPE = /\x1b[ -/]*[0-~]?/g;
/** C0 controls but tab and newline, DEL, C1 controls (U+009B is a one-character CSI to some terminals). */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

export function sanitizeForTerminal(text: string): string {
  return text.replace(CSI, "").replace(STRING, "").replace(ESCAPE, "").replace(CONTROL, "");
}
