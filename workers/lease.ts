/**
 * The lease a worker holds on the stage it runs: renewed on a heartbeat, lost when it expires
 * (then the stage aborts at once), and the channel through which cancel and timeouts arrive.
 */
import { renewLease } from '../shared/repositories/leases.js';
import type { StageContext } from './context.js';

export type AbortReason = 'cancelled' | 'timeout' | 'lease_lost' | 'shutdown';

/** Thrown by `check()` once the stage must stop. */
export class StageAborted extends Error {
  constructor(readonly reason: AbortReason) {
    super(`stage aborted: ${reason}`);
    this.name = 'StageAborted';
  }
}

/** Heartbeat period: often enough for cancel to arrive within seconds, at most every 2 s. */
export const heartbeatMs = (leaseMs: number): number =>
  Math.max(100, Math.min(2000, Math.floor(leaseMs / 4)));

export class StageLease {
  private readonly controller = new AbortController();
  private deadline: number;
  private beat?: NodeJS.Timeout;
  private limit?: NodeJS.Timeout;
  private renewing = false;

  constructor(
    private readonly ctx: StageContext,
    readonly deploymentId: string,
    readonly token: string,
    private readonly leaseMs: number,
  ) {
    // a margin below the database's deadline: we stop before anyone may take over
    this.deadline = Date.now() + leaseMs * 0.8;
  }

  /** Aborted when the stage must stop; its reason says why. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get reason(): AbortReason | undefined {
    return this.signal.aborted ? (this.signal.reason as AbortReason) : undefined;
  }

  /** Starts the heartbeat and the stage's time limit. */
  start(timeoutMs: number): this {
    this.beat = setInterval(() => void this.renew(), heartbeatMs(this.leaseMs));
    this.limit = setTimeout(() => this.abort('timeout'), timeoutMs);
    return this;
  }

  /** Stops the stage for `reason` (the first reason wins). */
  abort(reason: AbortReason): void {
    if (!this.signal.aborted) {
      this.ctx.logger.warn({ deployment: this.deploymentId, reason }, 'stage aborted');
      this.controller.abort(reason);
    }
  }

  /** Throws StageAborted when the stage must stop (a lease past its deadline included). */
  check(): void {
    if (Date.now() > this.deadline) {
      this.abort('lease_lost');
    }
    if (this.reason) {
      throw new StageAborted(this.reason);
    }
  }

  private async renew(): Promise<void> {
    if (this.renewing || this.signal.aborted) {
      return;
    }
    this.renewing = true;
    const asked = Date.now();
    try {
      const state = await renewLease(this.ctx.db, this.deploymentId, this.token, this.leaseMs);
      if (state === 'lost') {
        this.abort('lease_lost');
      } else {
        this.deadline = asked + this.leaseMs * 0.8;
        if (state === 'cancel') {
          this.abort('cancelled');
        }
      }
    } catch (err) {
      // the database is away: keep working until the deadline, then stop
      this.ctx.logger.warn({ err: (err as Error).message }, 'lease renewal failed');
      if (Date.now() > this.deadline) {
        this.abort('lease_lost');
      }
    } finally {
      this.renewing = false;
    }
  }

  /** Stops the heartbeat and the time limit. */
  stop(): void {
    clearInterval(this.beat);
    clearTimeout(this.limit);
  }
}
