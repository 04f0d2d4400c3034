/** The CLI's exit codes (a stable table, documented in the README) and its error type. */

export const EXIT = {
  /** The command worked; a followed run ended as asked (`deployed`, or `stopped` for stop). */
  ok: 0,
  /** A followed run ended otherwise: `failed` (the failing step is printed), or deleted. */
  runFailed: 1,
  /** Usage or input: bad arguments, an unreadable or non-JSON manifest, a 400/422 answer. */
  input: 2,
  /** stagecoach refused the request (401, 403, 404, 409, 429, …). */
  refused: 3,
  /** stagecoach could not be reached, answered 5xx or something not stagecoach's. */
  unreachable: 4,
  /** Ctrl-C while following: the CLI stopped following; the deployment goes on. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error the CLI reports as one sentence (never a stack trace) and an exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    /** The API's error code, when the API gave one. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
