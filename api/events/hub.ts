/**
 * One LISTEN session per API process, fanned out to this process's SSE streams. Streams
 * register by deployment id, or for every deployment ('*'); the session starts with the
 * first stream and wakes every stream whenever it (re)connects.
 */
import type { Knex } from 'knex';
import type { Logger } from '../../shared/logger.js';
import { NotifyListener, type NotifyKind } from '../../shared/notify-listener.js';

/** What a stream is woken for: a notification, or `connected` (re-read: some may be lost). */
export type Wake = NotifyKind | 'connected';

export interface Subscriber {
  wake(deploymentId: string | null, why: Wake): void;
  /** The process is shutting down: end the response. */
  end(): void;
}

/** The connection string behind a knex pool (createDb's shape, or a plain URL). */
export function connectionStringOf(db: Knex): string {
  const c = (db.client as { config: Knex.Config }).config.connection as
    string | { connectionString?: string };
  const url = typeof c === 'string' ? c : c?.connectionString;
  if (!url) {
    throw new Error('live events need a database connection string');
  }
  return url;
}

/** The process's fan-out of database notifications to SSE streams. */
export class EventHub {
  private readonly subs = new Map<string, Set<Subscriber>>();
  private listener?: NotifyListener;
  private closed = false;

  constructor(
    private readonly connectionString: string,
    private readonly logger: Logger,
  ) {}

  /** Registers a stream for `key` (a deployment id, or '*' for all); returns its removal. */
  subscribe(key: string, sub: Subscriber): () => void {
    if (this.closed) {
      sub.end();
      return () => undefined;
    }
    this.listener ??= new NotifyListener(
      this.connectionString,
      {
        notify: (id, kind) => this.dispatch(id, kind),
        connected: () => this.wakeAll(),
      },
      this.logger,
    ).start();
    let set = this.subs.get(key);
    if (!set) {
      set = new Set();
      this.subs.set(key, set);
    }
    set.add(sub);
    return () => {
      set.delete(sub);
      if (set.size === 0 && this.subs.get(key) === set) {
        this.subs.delete(key);
      }
    };
  }

  private dispatch(id: string, kind: NotifyKind): void {
    for (const sub of [...(this.subs.get(id) ?? []), ...(this.subs.get('*') ?? [])]) {
      sub.wake(id, kind);
    }
  }

  private wakeAll(): void {
    for (const set of this.subs.values()) {
      for (const sub of [...set]) {
        sub.wake(null, 'connected');
      }
    }
  }

  /** Ends every stream and closes the LISTEN session (shutdown, before the HTTP server). */
  async close(): Promise<void> {
    this.closed = true;
    for (const set of this.subs.values()) {
      for (const sub of [...set]) {
        sub.end();
      }
    }
    this.subs.clear();
    await this.listener?.close();
  }
}
