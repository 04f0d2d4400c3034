/**
 * One dedicated PostgreSQL session that LISTENs on `stagecoach_events` (the triggers of
 * migration 20261130000001) and reconnects when it drops. A notification only says "this
 * deployment changed, of this kind"; what changed is read from the rows.
 */
import pg from 'pg';
import type { Logger } from './logger.js';

export const EVENTS_CHANNEL = 'stagecoach_events';

/** Kinds the triggers notify. */
export type NotifyKind = 'event' | 'log' | 'progress' | 'health' | 'deleted';

export interface NotifyHandlers {
  notify(deploymentId: string, kind: NotifyKind): void;
  /** (Re)connected: notifications sent while no session listened are gone, so re-read. */
  connected(): void;
}

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5000;

/** LISTENs on one session of its own; reconnects with backoff until closed. */
export class NotifyListener {
  private client: pg.Client | null = null;
  private closed = false;
  private retryMs = RETRY_MIN_MS;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly connectionString: string,
    private readonly handlers: NotifyHandlers,
    private readonly logger: Logger,
  ) {}

  /** Connects (in the background; failures are retried). */
  start(): this {
    void this.connect();
    return this;
  }

  private async connect(): Promise<void> {
    if (this.closed) {
      return;
    }
    const client = new pg.Client({
      connectionString: this.connectionString,
      connectionTimeoutMillis: 5000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    this.client = client;
    client.on('notification', (msg) => this.onMessage(msg.payload));
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    try {
      await client.connect();
      await client.query(`LISTEN ${EVENTS_CHANNEL}`);
    } catch (err) {
      this.lost(client, err as Error);
      return;
    }
    if (this.client === client && !this.closed) {
      this.retryMs = RETRY_MIN_MS;
      this.handlers.connected();
    }
  }

  private onMessage(payload: string | undefined): void {
    const m = /^([0-9a-f-]{36}):([a-z]+)$/.exec(payload ?? '');
    if (m) {
      this.handlers.notify(m[1]!, m[2] as NotifyKind);
    }
  }

  /** Drops a session that failed (once) and schedules the next. */
  private lost(client: pg.Client, err: Error): void {
    if (this.client !== client) {
      return;
    }
    this.client = null;
    client.removeAllListeners('end');
    client.on('error', () => undefined);
    client.end().catch(() => undefined);
    if (this.closed) {
      return;
    }
    this.logger.warn(
      { err: err.message, retryMs: this.retryMs },
      'event listener lost its session',
    );
    this.timer = setTimeout(() => void this.connect(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }

  /** Stops listening and closes the session. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    const client = this.client;
    this.client = null;
    if (client) {
      client.removeAllListeners('end');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
    }
  }
}
