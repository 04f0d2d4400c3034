/** Transport failures with a stable code, a message saying what happened and a hint saying how to fix it. */

/** The codes a transport reports; part of the API (stages and events show them). */
export const TRANSPORT_ERROR_CODES = [
  'ssh_unreachable',
  'ssh_auth_failed',
  'host_key_mismatch',
  'ssh_key_unreadable',
  'ssh_connection_lost',
  'ssh_no_credentials',
  'ssh_workdir_failed',
] as const;

export type TransportErrorCode = (typeof TRANSPORT_ERROR_CODES)[number];

/** A transport failed to connect, authenticate, or keep its connection. Messages never hold secrets. */
export class TransportError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TransportError';
  }
}

/** True when `err` is a TransportError with `code`. */
export function isTransportError(err: unknown, code?: TransportErrorCode): err is TransportError {
  return err instanceof TransportError && (code === undefined || err.code === code);
}
