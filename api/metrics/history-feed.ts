/**
 * Reads the history (deployment_events) incrementally for the counters and histograms: every
 * API process folds the same append-only table from its first row, so all of them expose the
 * same totals, and each scrape reads only the events past a high-water mark.
 */
import type { Db } from '../../shared/db.js';
import { eventsAfter, type MetricEvent } from '../../shared/repositories/metrics.js';

export interface FeedLimits {
  /** Events per query. */
  batch: number;
  /** Queries per scrape: a long history is caught up over several scrapes. */
  maxBatches: number;
  /** How long a hole in the ids may stay open before it counts as a rolled-back insert. */
  gapMs: number;
}

const DEFAULT_LIMITS: FeedLimits = { batch: 5000, maxBatches: 20, gapMs: 120_000 };

/**
 * Ids are drawn at insert but become visible at commit, so id 7 can appear after id 8 was
 * read. The mark therefore stops below a hole; events above it are remembered as counted
 * (`counted`) and skipped when re-read, until the hole fills or has been open for `gapMs`.
 */
export class HistoryFeed {
  private mark = 0;
  private readonly counted = new Set<number>();
  /** First id of each hole seen → when it was first seen. */
  private readonly holes = new Map<number, number>();
  private pending?: Promise<void>;

  constructor(
    private readonly db: Db,
    private readonly onEvent: (e: MetricEvent) => void,
    private readonly limits: FeedLimits = DEFAULT_LIMITS,
  ) {}

  /** Folds in the events that are new since the last call; concurrent callers share one read. */
  catchUp(): Promise<void> {
    this.pending ??= this.read().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async read(): Promise<void> {
    const now = Date.now();
    let cursor = this.mark;
    for (let i = 0; i < this.limits.maxBatches; i++) {
      const rows = await eventsAfter(this.db, cursor, this.limits.batch);
      for (const row of rows) {
        if (row.id > cursor + 1 && !this.holes.has(cursor + 1)) {
          this.holes.set(cursor + 1, now);
        }
        cursor = row.id;
        if (!this.counted.has(row.id)) {
          this.counted.add(row.id);
          this.onEvent(row);
        }
      }
      if (rows.length < this.limits.batch) {
        break;
      }
    }
    this.advance(now);
  }

  /** Moves the mark over counted ids and over holes open longer than `gapMs`. */
  private advance(now: number): void {
    for (;;) {
      const next = this.mark + 1;
      if (this.counted.delete(next)) {
        this.holes.delete(next);
        this.mark = next;
        continue;
      }
      const since = this.holes.get(next);
      if (since === undefined || now - since < this.limits.gapMs || !this.counted.size) {
        return;
      }
      this.holes.delete(next);
      this.mark = lowest(this.counted) - 1;
    }
  }
}

/** The smallest member of a non-empty set (no spread: the set can hold a whole batch). */
function lowest(ids: Set<number>): number {
  let min = Infinity;
  for (const id of ids) {
    min = Math.min(min, id);
  }
  return min;
}
