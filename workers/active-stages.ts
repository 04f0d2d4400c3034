/** The stages this process is running, so shutdown can hand them back. */
import type { AbortReason, StageLease } from './lease.js';

export class ActiveStages {
  private readonly leases = new Set<StageLease>();

  /** Registers a running stage; the returned function unregisters it. */
  add(lease: StageLease): () => void {
    this.leases.add(lease);
    return () => this.leases.delete(lease);
  }

  get size(): number {
    return this.leases.size;
  }

  /** Aborts every running stage for `reason`. */
  abortAll(reason: AbortReason): void {
    for (const lease of this.leases) {
      lease.abort(reason);
    }
  }
}
