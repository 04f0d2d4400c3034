/** Removing secret values from text that leaves the worker (logs, results, errors). */

/** Values shorter than this are not redacted: they would blank out ordinary text. */
const MIN_LENGTH = 4;
export const REDACTED = '***';

/** `text` with every occurrence of each value replaced by `***`. */
export function redactText(text: string, values: readonly string[]): string {
  let out = text;
  for (const v of values) {
    if (v.length >= MIN_LENGTH && out.includes(v)) {
      out = out.split(v).join(REDACTED);
    }
  }
  return out;
}
