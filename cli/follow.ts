/**
 * Follows one deployment's event stream until its `end` event: reconnects with Last-Event-ID
 * when the connection breaks or goes quiet (nothing lost, nothing twice), gives up after a
 * while without a connection, and stops at Ctrl-C without touching the deployment.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { networkReason, type StagecoachClient } from './client.js';
import { CliError, EXIT } from './exit.js';
import { readSse } from './sse.js';
import type { Deployment, EndData, StreamEvent } from './types.js';

export interface FollowOptions {
  /** Aborted at Ctrl-C. */
  signal: AbortSignal;
  onEvent(e: StreamEvent): void;
  onReconnect?(reason: string, delayMs: number): void;
  /** No byte (not even a keepalive) for this long: the connection is taken as dead. */
  idleMs?: number;
  /** Without a working connection for this long, following ends with exit 4. */
  giveUpMs?: number;
}

/** The outcome of one connection. */
type Pass = { kind: 'end'; end: EndData } | { kind: 'lost'; reason: string; gotAny: boolean };

/** The error of Ctrl-C: following stops, the deployment goes on. */
export const interrupted = (id: string): CliError =>
  new CliError(
    `stopped following; deployment ${id} goes on (see: stagecoach status ${id})`,
    EXIT.interrupted,
  );

/** Reads the stream until its `end` event; returns it. */
export async function followEvents(
  client: StagecoachClient,
  id: string,
  opts: FollowOptions,
): Promise<EndData> {
  const giveUpMs = opts.giveUpMs ?? 60_000;
  const cursor: { lastId?: string } = {};
  let downSince: number | null = null;
  let attempt = 0;
  for (;;) {
    const pass = await connectOnce(client, id, cursor, opts);
    if (pass.kind === 'end') {
      return pass.end;
    }
    if (pass.gotAny) {
      downSince = null;
      attempt = 0;
    }
    downSince ??= Date.now();
    if (Date.now() - downSince >= giveUpMs) {
      throw new CliError(
        `lost the event stream of deployment ${id} (${pass.reason}) and could not get it back for ${giveUpMs / 1000} s; the deployment goes on (see: stagecoach status ${id})`,
        EXIT.unreachable,
      );
    }
    const delay = Math.min(500 * 2 ** attempt++, 5000);
    opts.onReconnect?.(pass.reason, delay);
    await sleep(delay, undefined, { signal: opts.signal }).catch(() => undefined);
    if (opts.signal.aborted) {
      throw interrupted(id);
    }
  }
}

/** One connection: reads events until `end`, or until it breaks. */
async function connectOnce(
  client: StagecoachClient,
  id: string,
  cursor: { lastId?: string },
  opts: FollowOptions,
): Promise<Pass> {
  const idleMs = opts.idleMs ?? 60_000;
  const conn = new AbortController();
  const stop = () => conn.abort();
  opts.signal.addEventListener('abort', stop, { once: true });
  let idle: NodeJS.Timeout | undefined;
  const touch = () => {
    clearTimeout(idle);
    idle = setTimeout(stop, idleMs);
  };
  let end: EndData | undefined;
  let gotAny = false;
  let fatal: unknown;
  try {
    touch();
    const headers = client.headers({
      accept: 'text/event-stream',
      ...(cursor.lastId ? { 'last-event-id': cursor.lastId } : {}),
    });
    const res = await client.raw('GET', `/deployments/${id}/events`, {
      headers,
      signal: conn.signal,
    });
    if (res.status === 204 || !res.body) {
      // a resumed stream of a deployment at rest with nothing new: it ended before
      const { deployment } = await client.json<{ deployment: Deployment }>(
        'GET',
        `/deployments/${id}`,
      );
      return { kind: 'end', end: { status: deployment.status, deleted: false } };
    }
    await readSse(
      res.body,
      (m) => {
        gotAny = true;
        try {
          const e = {
            event: m.event,
            id: m.id,
            data: JSON.parse(m.data) as unknown,
          } as StreamEvent;
          opts.onEvent(e);
          cursor.lastId = m.id ?? cursor.lastId;
          if (e.event === 'end') {
            end = e.data;
            return true;
          }
        } catch (err) {
          fatal =
            err instanceof SyntaxError
              ? new CliError(
                  `stagecoach sent an event that is not JSON (${m.event})`,
                  EXIT.unreachable,
                )
              : err;
          return true;
        }
      },
      touch,
    );
  } catch (err) {
    if (opts.signal.aborted) {
      throw interrupted(id);
    }
    // a refusal (404, 401, …) will not change on a retry; an outage or a 5xx may
    if (err instanceof CliError && err.exitCode !== EXIT.unreachable) {
      throw err;
    }
    const reason = conn.signal.aborted
      ? `nothing received for ${idleMs / 1000} s`
      : err instanceof CliError
        ? err.message
        : networkReason(err);
    return { kind: 'lost', reason, gotAny };
  } finally {
    clearTimeout(idle);
    opts.signal.removeEventListener('abort', stop);
  }
  if (fatal) {
    throw fatal;
  }
  return end
    ? { kind: 'end', end }
    : { kind: 'lost', reason: 'the server closed the stream', gotAny };
}
