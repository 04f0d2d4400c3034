/** Moves outbox rows into BullMQ: after each commit (fast path) and on a timer (the safety net). */
import type { Knex } from 'knex';
import type { Logger } from './logger.js';
import type { QueueRegistry } from './queues.js';
import { deleteOutbox, lockOutbox } from './repositories/outbox.js';

const BATCH = 100;

/** Relays every due outbox row; returns how many were enqueued. */
export async function relayOutbox(db: Knex, queues: QueueRegistry): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await db.transaction(async (trx) => {
      const rows = await lockOutbox(trx, BATCH);
      for (const r of rows) {
        await queues.addRaw(r.job_name, r.payload, r.job_id, r.delay_ms);
      }
      await deleteOutbox(
        trx,
        rows.map((r) => r.id),
      );
      return rows.length;
    });
    total += n;
    if (n < BATCH) {
      return total;
    }
  }
}

/** A relay that runs at once when kicked and every `everyMs`, never twice at the same time. */
export class OutboxRelay {
  private running?: Promise<void>;
  private again = false;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly db: Knex,
    private readonly queues: QueueRegistry,
    private readonly logger: Logger,
  ) {}

  /** Relays soon; a kick during a relay runs one more pass after it. */
  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = relayOutbox(this.db, this.queues)
      .then(
        () => undefined,
        (err: unknown) => this.logger.warn({ err: (err as Error).message }, 'outbox relay failed'),
      )
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Starts the periodic pass. */
  start(everyMs: number): this {
    if (this.timer) {
      return this;
    }
    this.timer = setInterval(() => this.kick(), everyMs);
    this.timer.unref();
    this.kick();
    return this;
  }

  /** Stops the timer and waits for a pass under way. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    this.again = false;
    await this.running;
  }
}
