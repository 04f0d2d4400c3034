/** Errors raised while loading a scenario or building a bundle, each with a stable code. */

/** Stable codes a caller can map onto the API's errors. */
export type BundleErrorCode =
  | 'scenario_not_found'
  | 'scenario_invalid'
  | 'scenario_path_escape'
  | 'scenario_changed'
  | 'scenario_hard_link'
  | 'scripts_not_found'
  | 'bundle_too_large';

/** A bundle failure with a stable `code` and optional structured `details`. */
export class BundleError extends Error {
  code: BundleErrorCode;
  details?: unknown;

  constructor(
    code: BundleErrorCode,
    message: string,
    options?: { details?: unknown; cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BundleError';
    this.code = code;
    this.details = options?.details;
  }
}

/** True when `err` is a Node system error with the given errno code (e.g. ENOENT). */
export function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}
