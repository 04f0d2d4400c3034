/**
 * A run's SSH connection kept between its stages in this worker process: setup parks it, and
 * the deploy stage of the same run (when this process takes it) reuses it instead of paying the
 * handshake and the login shell again. Parked connections close after SSH_REUSE_SECONDS.
 */
import type { DeploymentRow } from '../shared/repositories/deployments.js';
import type { Transport } from '../shared/transports/types.js';

interface Parked {
  t: Transport;
  timer: NodeJS.Timeout;
}

/** A transport that can say its connection is gone (SshTransport does). */
type MaybeAlive = Transport & { readonly alive?: boolean };

/** Only one run's stages share a connection: same deployment, same run, same target. */
export function reuseKey(d: Pick<DeploymentRow, 'id' | 'run_id' | 'target_key'>): string | null {
  return d.run_id ? `${d.id}|${d.run_id}|${d.target_key}` : null;
}

/** The connections parked by finished stages, one per run at most. */
export class TransportReuse {
  private readonly parked = new Map<string, Parked>();

  constructor(private readonly idleMs: number) {}

  /** The live connection a previous stage of the same run parked, taken out of the pool. */
  take(key: string | null): Transport | undefined {
    const p = key === null ? undefined : this.parked.get(key);
    if (p === undefined) {
      return undefined;
    }
    this.parked.delete(key!);
    clearTimeout(p.timer);
    if ((p.t as MaybeAlive).alive === false) {
      void p.t.close().catch(() => undefined);
      return undefined;
    }
    return p.t;
  }

  /** Parks `t` for the next stage of its run; closes it when reuse is off or `key` is null. */
  async release(key: string | null, t: Transport): Promise<void> {
    if (key === null || this.idleMs <= 0 || t.kind !== 'ssh' || this.parked.has(key)) {
      await t.close();
      return;
    }
    const timer = setTimeout(() => {
      if (this.parked.get(key)?.t === t) {
        this.parked.delete(key);
        void t.close().catch(() => undefined);
      }
    }, this.idleMs);
    timer.unref();
    this.parked.set(key, { t, timer });
  }

  /** Closes every parked connection (worker shutdown). */
  async closeAll(): Promise<void> {
    const all = [...this.parked.values()];
    this.parked.clear();
    await Promise.all(
      all.map((p) => {
        clearTimeout(p.timer);
        return p.t.close().catch(() => undefined);
      }),
    );
  }
}
