/**
 * The dashboard's feed (GET /api/v1/events): a `deployment` event with the current state of a
 * deployment whenever its status, health, run or deletion changes. State, not history: no ids;
 * after (re)connecting, and on `resync`, a client re-reads the list (GET /api/v1/deployments).
 */
import type { Response } from 'express';
import type { Knex } from 'knex';
import type { Logger } from '../../shared/logger.js';
import { deploymentState, type DeploymentState } from '../../shared/repositories/live-events.js';
import type { EventHub, Subscriber, Wake } from './hub.js';
import { frame } from './sse.js';

/** What the feed shows of a deployment. */
function summary(d: DeploymentState) {
  return {
    id: d.id,
    name: d.name,
    status: d.status,
    health: d.health?.state ?? null,
    run_active: d.run_kind !== null,
    progress: d.progress,
    deleted: d.deleted_at !== null,
    updated_at: d.updated_at,
  };
}

/** One process's feed: reads a changed deployment once and sends it to every client. */
export class GlobalFeed implements Subscriber {
  private readonly clients = new Set<Response>();
  private unsubscribe?: () => void;
  /** Last state sent per deployment: progress-only changes are not the list's business. */
  private readonly lastSent = new Map<string, string>();
  private readonly queued = new Set<string>();
  private draining = false;

  constructor(
    private readonly hub: EventHub,
    private readonly db: Knex,
    private readonly logger: Logger,
  ) {}

  /** Adds a client; returns its removal. */
  add(res: Response): () => void {
    this.clients.add(res);
    this.unsubscribe ??= this.hub.subscribe('*', this);
    return () => {
      this.clients.delete(res);
      if (this.clients.size === 0) {
        this.unsubscribe?.();
        this.unsubscribe = undefined;
        this.lastSent.clear();
      }
    };
  }

  wake(id: string | null, why: Wake): void {
    if (id === null) {
      this.broadcast(frame('resync', {}));
      return;
    }
    if (why === 'log' || why === 'progress') {
      return;
    }
    this.queued.add(id);
    if (!this.draining) {
      this.draining = true;
      this.drain()
        .catch((err: unknown) =>
          this.logger.warn({ err: (err as Error).message }, 'event feed read failed'),
        )
        .finally(() => {
          this.draining = false;
        });
    }
  }

  private async drain(): Promise<void> {
    for (const id of this.queued) {
      this.queued.delete(id);
      const d = await deploymentState(this.db, id);
      if (!d) {
        continue; // another schema's deployment (tests share a database)
      }
      const data = summary(d);
      const key = JSON.stringify([data.status, data.health, data.run_active, data.deleted]);
      if (this.lastSent.get(id) !== key) {
        this.lastSent.set(id, key);
        this.broadcast(frame('deployment', data));
      }
    }
  }

  private broadcast(text: string): void {
    for (const res of this.clients) {
      res.write(text);
    }
  }

  end(): void {
    for (const res of [...this.clients]) {
      res.end();
    }
    this.clients.clear();
    this.unsubscribe = undefined;
  }
}
