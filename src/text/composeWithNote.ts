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
  const whole = compose(note);
  if (whole.length <= maxLength) return whole;
  // The longest beginning of the note that fits (binary search: a longer note never composes shorter).
  let best: string | undefined;
  let lo = 1;
  let hi = note.length - 1;
  while (lo <= hi) {
    const keep = Math.floor((lo + hi) / 2);
    const message = compose(shortened(note, keep));
    if (message.length <= maxLength) {
      best = message;
      lo = keep + 1;
    } else {
      hi = keep - 1;
    }
  }
  return best ?? compose();
}

/** The first `keep` characters of `note` (never half a surrogate pair, no trailing space), then "…". */
function shortened(note: string, keep: number): string {
  const end = /[\uD800-\uDBFF]/.test(note[keep - 1] ?? "") ? keep - 1 : keep;
  return `${note.slice(0, end).trimEnd()}…`;
}
