/**
 * The per-run log cap (RUN_LOG_MAX_BYTES): output past it is dropped, once, with a visible
 * marker; each step's output tail stays in its result either way.
 */
import type { LogChunk } from '../shared/repositories/logs.js';
import { runLogBytes } from '../shared/repositories/log-usage.js';
import type { StageContext } from './context.js';

export class LogBudget {
  /** Bytes this run may still store; unknown until the first batch. */
  private left?: number;

  constructor(
    private readonly ctx: StageContext,
    private readonly runId: string | null,
  ) {}

  /** False once the cap was reached (new output can be dropped at once). */
  get open(): boolean {
    return this.left === undefined || this.left > 0;
  }

  /** The part of `batch` that fits, plus the truncation marker when this batch crosses the cap. */
  async fit(batch: LogChunk[]): Promise<LogChunk[]> {
    const max = this.ctx.config.RUN_LOG_MAX_BYTES;
    if (!this.runId || batch.length === 0) {
      return batch;
    }
    this.left ??= max - (await runLogBytes(this.ctx.db, this.runId));
    if (this.left <= 0) {
      return [];
    }
    const out: LogChunk[] = [];
    for (const c of batch) {
      const size = Buffer.byteLength(c.chunk);
      if (size <= this.left) {
        out.push(c);
        this.left -= size;
        continue;
      }
      const cut = Buffer.from(c.chunk)
        .subarray(0, this.left)
        .toString('utf8')
        .replace(/\uFFFD$/, '');
      out.push({ ...c, chunk: cut });
      out.push({
        ...c,
        stream: 'stderr',
        chunk: `\n[stagecoach] output truncated: this run's log reached RUN_LOG_MAX_BYTES (${max} bytes); later output is not stored (each step keeps its last lines in its result)\n`,
      });
      this.left = 0;
      break;
    }
    return out;
  }
}
