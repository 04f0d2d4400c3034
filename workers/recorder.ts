/** Records a stage's steps: timing, output tail, progress and streamed logs in Postgres. */
import type { StageResult, StepResult } from '../shared/repositories/deployments.js';
import { patchDeployment } from '../shared/repositories/deployments.js';
import { appendLogs, type LogChunk } from '../shared/repositories/logs.js';
import type { OutputStream } from '../shared/transports/types.js';
import { appendTail } from '../shared/transports/types.js';
import { isInfraError } from '../shared/infra.js';
import { redactText } from '../shared/secrets/redact.js';
import type { StageContext } from './context.js';
import type { StageLease } from './lease.js';
import { LogBudget } from './log-budget.js';
import { stepFailure } from './transport-failure.js';

const STEP_TAIL_BYTES = 4000;
const FLUSH_MS = 500;

/** The handle a running step writes its output to. */
export interface StepHandle {
  output(stream: OutputStream, chunk: string): void;
  /** Aborted when the stage must stop (cancel, timeout, lost lease, shutdown). */
  signal?: AbortSignal;
}

export class StageRecorder {
  readonly steps: StepResult[] = [];
  private pending: LogChunk[] = [];
  private timer?: NodeJS.Timeout;
  /** The step under way (or the last one), for errors that arrive from outside the step. */
  currentStep: string | null = null;
  /** Secret values this stage handles: never stored in logs, tails or results. */
  private secretValues: string[] = [];
  private readonly budget: LogBudget;

  constructor(
    private readonly ctx: StageContext,
    readonly stage: string,
    readonly deploymentId: string,
    readonly runId: string | null,
    /** Progress percent at the start of each step id. */
    private readonly percents: Record<string, number> = {},
    /** The lease the stage runs under: fences writes and stops steps once lost. */
    private readonly lease?: StageLease,
  ) {
    this.budget = new LogBudget(ctx, runId);
  }

  /** Runs one step; records it whether it succeeds or throws. */
  async step<T>(id: string, title: string, fn: (h: StepHandle) => Promise<T>): Promise<T> {
    this.lease?.check();
    this.currentStep = id;
    const started = new Date();
    let tail = '';
    const handle: StepHandle = {
      output: (stream, raw) => {
        const chunk = this.redact(raw);
        tail = appendTail(tail, chunk, STEP_TAIL_BYTES);
        this.log(id, stream, chunk);
      },
      signal: this.lease?.signal,
    };
    // the progress write runs beside the step (a round trip off the step's path); awaited at
    // its end, before the flush, and chained so progress writes land in order
    const shown = this.progress(id);
    shown.catch(() => undefined);
    const record = (ok: boolean): void => {
      this.steps.push({
        id,
        title,
        ok,
        started_at: started.toISOString(),
        duration_ms: Date.now() - started.getTime(),
        output_tail: tail,
      });
    };
    try {
      const value = await fn(handle);
      record(true);
      return value;
    } catch (err) {
      record(false);
      throw stepFailure(id, err);
    } finally {
      await shown;
      await this.flush();
    }
  }

  /** Records a step that had nothing to do (work already done for this bundle). */
  skipped(id: string, title: string, reason: string): void {
    this.steps.push({
      id,
      title,
      ok: true,
      skipped: true,
      started_at: new Date().toISOString(),
      duration_ms: 0,
      output_tail: reason,
    });
  }

  /** Registers secret values to redact from everything recorded from now on. */
  addSecrets(values: readonly string[]): void {
    this.secretValues.push(...values);
  }

  /** `text` without the stage's secret values. */
  redact(text: string): string {
    return redactText(text, this.secretValues);
  }

  /** The stage result so far (an error's message redacted). */
  result(error: StageResult['error'] = null, extra: Record<string, unknown> = {}): StageResult {
    const safe = error ? { ...error, message: this.redact(error.message) } : null;
    return { ok: error === null, steps: [...this.steps], error: safe, ...this.facts, ...extra };
  }

  /** Facts the stage result keeps whether the stage succeeds or fails (e.g. a rollback's). */
  readonly facts: Record<string, unknown> = {};

  /**
   * Shows `step` as the stage's progress (best effort: an outage of the database skips it).
   * Writes are chained, so they land in the order they were asked for.
   */
  progress(step: string): Promise<void> {
    const percent = this.percents[step] ?? 0;
    const write = this.progressWrites.then(() =>
      patchDeployment(this.ctx.db, this.deploymentId, this.lease?.token ?? null, {
        progress: { stage: this.stage, step, percent },
      }).then(
        () => undefined,
        (err: unknown) => {
          if (!isInfraError(err)) {
            throw err;
          }
        },
      ),
    );
    this.progressWrites = write.catch(() => undefined);
    return write;
  }

  /** The last progress write asked for (settled: its error goes to whoever asked). */
  private progressWrites: Promise<void> = Promise.resolve();

  private log(step: string, stream: OutputStream, chunk: string): void {
    if (!this.budget.open) {
      return;
    }
    this.pending.push({
      deployment_id: this.deploymentId,
      run_id: this.runId,
      stage: this.stage,
      step,
      stream,
      chunk,
    });
    this.timer ??= setTimeout(() => {
      this.flush().catch((err: unknown) => this.ctx.logger.warn({ err }, 'log flush failed'));
    }, FLUSH_MS);
  }

  /** Writes buffered output to Postgres; while the database is away it stays buffered. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    try {
      await appendLogs(this.ctx.db, await this.budget.fit(batch));
    } catch (err) {
      if (!isInfraError(err)) {
        throw err;
      }
      this.pending = [...batch, ...this.pending];
      this.ctx.logger.warn({ err: (err as Error).message }, 'log flush postponed');
    }
  }
}
