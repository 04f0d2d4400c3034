/** A transport whose every command dies with the stage: the stage's signal reaches each exec. */
import type { Transport } from '../shared/transports/types.js';
import { StageAborted, type AbortReason } from './lease.js';

/** Rejects once `signal` aborts (the work itself is stopped by closing the transport). */
function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    return Promise.reject(new StageAborted(signal.reason as AbortReason));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new StageAborted(signal.reason as AbortReason));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * Wraps `t` so that `signal` kills every command (its process group) and stops uploads, and
 * each command knows the lease it runs under (`STAGECOACH_LEASE`: manage.sh takes the target
 * lock over from a holder with another lease, which can only be a lost stage's orphan).
 */
export function withSignal(t: Transport, signal: AbortSignal, lease: string): Transport {
  return {
    kind: t.kind,
    describe: t.describe,
    workdir: t.workdir,
    exec(argv, opts = {}) {
      if (signal.aborted) {
        return Promise.reject(new StageAborted(signal.reason as AbortReason));
      }
      const both = opts.signal ? AbortSignal.any([opts.signal, signal]) : signal;
      return t.exec(argv, { ...opts, signal: both, env: { ...opts.env, STAGECOACH_LEASE: lease } });
    },
    putFile: (local, remote) => raceAbort(t.putFile(local, remote), signal),
    readFile: (remote) => raceAbort(t.readFile(remote), signal),
    close: () => t.close(),
  };
}
