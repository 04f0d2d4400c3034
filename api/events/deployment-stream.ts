/**
 * The SSE stream of one deployment: its history events and log lines after a cursor (resumable
 * ids `e<event id>-l<log id>`), its progress when it changes (no id: state, not history), and
 * the end once the deployment rests in a terminal status with no run active.
 */
import type { Response } from 'express';
import type { Knex } from 'knex';
import type { Logger } from '../../shared/logger.js';
import {
  deploymentState,
  readAfter,
  type DeploymentState,
  type StreamCursor,
} from '../../shared/repositories/live-events.js';
import type { Subscriber, Wake } from './hub.js';
import { frame, writeOut } from './sse.js';

const PAGE = 500;
const TERMINAL = new Set(['deployed', 'failed', 'stopped']);

/** The SSE id of a cursor. */
export const formatCursor = (c: StreamCursor): string => `e${c.e}-l${c.l}`;

/** A Last-Event-ID this API issued, or null. */
export function parseCursor(value: string): StreamCursor | null {
  const m = /^e(\d{1,18})-l(\d{1,18})$/.exec(value.trim());
  return m ? { e: Number(m[1]), l: Number(m[2]) } : null;
}

/** True when the deployment rests: a terminal status and no run under way. */
export const isAtRest = (d: DeploymentState): boolean =>
  TERMINAL.has(d.status) && d.run_kind === null;

/** One client's stream; `wake` reads what is new (one read at a time, wakes coalesced). */
export class DeploymentStream implements Subscriber {
  private busy = false;
  private again = false;
  private done = false;
  private sentProgress?: string;
  onDone: () => void = () => undefined;

  constructor(
    private readonly db: Knex,
    private readonly res: Response,
    private readonly id: string,
    private cursor: StreamCursor,
    private readonly logger: Logger,
  ) {}

  wake(_id: string | null, _why: Wake | 'tick'): void {
    if (this.done) {
      return;
    }
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    this.pump()
      .catch((err: unknown) => {
        // an outage: the next wake (a notification or the keepalive tick) reads again
        this.logger.warn(
          { err: (err as Error).message, deployment: this.id },
          'event stream read failed',
        );
      })
      .finally(() => {
        this.busy = false;
      });
  }

  private async pump(): Promise<void> {
    do {
      this.again = false;
      // the row first: events read after it include the event of any status it shows
      const d = await deploymentState(this.db, this.id);
      if (!d || d.deleted_at) {
        return this.finish(d?.status ?? null, true);
      }
      await this.sendNew();
      await this.sendProgress(d);
      if (isAtRest(d)) {
        return this.finish(d.status, false);
      }
    } while (this.again && !this.done);
  }

  private async sendNew(): Promise<void> {
    for (let more = true; more && !this.done;) {
      const page = await readAfter(this.db, this.id, this.cursor, PAGE);
      for (const item of page.items) {
        if (this.done) {
          return;
        }
        this.cursor =
          item.type === 'log' ? { ...this.cursor, l: item.id } : { ...this.cursor, e: item.id };
        await writeOut(this.res, frame(item.type, item.row, formatCursor(this.cursor)));
      }
      more = page.more;
    }
  }

  private async sendProgress(d: DeploymentState): Promise<void> {
    const data = { status: d.status, run_active: d.run_kind !== null, progress: d.progress };
    const text = JSON.stringify(data);
    if (!this.done && text !== this.sentProgress) {
      this.sentProgress = text;
      await writeOut(this.res, frame('progress', data));
    }
  }

  /** Ends the stream with an `end` event (the client should not reconnect). */
  private finish(status: string | null, deleted: boolean): void {
    if (!this.done) {
      this.res.write(frame('end', { status, deleted }));
      this.end();
    }
  }

  end(): void {
    if (!this.done) {
      this.done = true;
      this.res.end();
      this.onDone();
    }
  }

  /** The client went away. */
  closed(): void {
    this.done = true;
    this.onDone();
  }
}
