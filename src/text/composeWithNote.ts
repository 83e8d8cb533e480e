/**
 * A note under an answer ("stopped", "reached the token limit", …) must never push a message past
 * its platform's limit. The ReplyStreamer keeps room for one in every message; this is the sink's
 * own guarantee for whatever it is given: the note is shortened (ending in "…") until the message
 * fits, or left out when not even a shortened note fits.
 */

/**
 * The message `compose(note)` builds, with `note` shortened so that it is at most `maxLength`
 * long; `compose(undefined)` when no beginning of the note fits (or there is no note).
 */
export function composeWithNote(compose: (note?: string) => string, note: string | undefined, maxLength: number): string {
  if (!note) return compose();
  let clipped = note;
  for (;;) {
    const message = compose(clipped);
    const over = message.length - maxLength;
    if (over <= 0) return message;
    // Keep one character less than needed for the ellipsis; never end on half a surrogate pair.
    let keep = clipped.replace(/…$/, "").length - over - 1;
    if (keep > 0 && /[\uD800-\uDBFF]/.test(clipped[keep - 1]!)) keep--;
    if (keep <= 0) return compose();
    clipped = `${clipped.slice(0, keep).trimEnd()}…`;
  }
}
