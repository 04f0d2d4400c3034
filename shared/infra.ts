/**
 * Outages of stagecoach's own backing services (its PostgreSQL and its queue backend):
 * recognising them, and bounding calls so an outage answers "unavailable" instead of hanging.
 */
import { AppError, StepError, TransientStepError } from './errors.js';
import { TransportError } from './transports/errors.js';

/** Socket-level codes from node: the peer is gone, refused, or never answered. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs that mean "no usable server", not "bad query": class 08 is connection exception,
 * 57P01-03 are admin shutdown, crash shutdown and "starting up / shutting down", 53300 is
 * too_many_connections (the server is up but will not take us).
 */
const SQLSTATE_DOWN = /^(08[0-9A-Z]{3}|57P0[123]|53300)$/;

/**
 * Messages of driver errors that carry no code. Knex prefixes a failed query's message with
 * its SQL, so these are matched anywhere in the message, never as the whole of it.
 */
const DOWN_MESSAGES = [
  'Connection terminated', // pg: server closed the socket (also "... unexpectedly")
  'Client has encountered a connection error', // pg: a client whose socket already failed
  'timeout expired', // pg: connectionTimeoutMillis elapsed while connecting
  'Timeout acquiring a connection', // knex: the pool could not get a connection in time
  'Connection is closed', // ioredis: command on a connection that was closed
  "Stream isn't writeable", // ioredis: disconnected with the offline queue off
];

/** Driver error classes that only ever mean the server is unreachable or unresponsive. */
const DOWN_NAMES = new Set(['KnexTimeoutError', 'MaxRetriesPerRequestError']);

/** 503 `unavailable` naming the backing service that is down. */
export const unavailable = (what: string, cause?: unknown): AppError =>
  new AppError('unavailable', `${what} is unavailable; try again shortly`, 503, undefined, {
    cause,
  });

/**
 * True when `err` means stagecoach's database or queue backend cannot be reached (down,
 * refusing, hung, restarting), rather than a bug or a bad request. It judges the error's
 * shape, so call it on errors from db/queue calls: a raw refused SSH connection looks the same
 * as a refused connection to PostgreSQL. Errors already classified as a target's (a
 * TransportError, or the StepError a stage made of one) are never an outage of ours.
 */
export function isInfraError(err: unknown): boolean {
  return check(err, 0);
}

// The cause chain and AggregateError's `errors` (node's happy-eyeballs connect) hold the
// real socket error; depth is bounded against cyclic causes.
function check(err: unknown, depth: number): boolean {
  if (depth > 5 || typeof err !== 'object' || err === null) {
    return false;
  }
  if (err instanceof AppError) {
    return err.code === 'unavailable';
  }
  if (
    err instanceof StepError ||
    err instanceof TransientStepError ||
    err instanceof TransportError
  ) {
    return false;
  }
  const e = err as { code?: unknown; name?: unknown; message?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && (NETWORK_CODES.has(e.code) || SQLSTATE_DOWN.test(e.code))) {
    return true;
  }
  if (typeof e.name === 'string' && DOWN_NAMES.has(e.name)) {
    return true;
  }
  const message = typeof e.message === 'string' ? e.message : '';
  if (DOWN_MESSAGES.some((m) => message.includes(m))) {
    return true;
  }
  const nested = [(err as { cause?: unknown }).cause, ...(Array.isArray(e.errors) ? e.errors : [])];
  return nested.some((n) => check(n, depth + 1));
}

/**
 * Resolves or rejects like `p`, but rejects with 503 `unavailable` once `ms` have passed.
 * `p` keeps running (a driver call cannot be cancelled); its late outcome is ignored.
 */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new AppError('unavailable', `${what} did not answer within ${ms} ms`, 503)),
      ms,
    );
  });
  // race() subscribes to `p`, so a rejection after the timeout is handled, not dangling
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
