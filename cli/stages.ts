/**
 * One progress state per stage of a run, from the event stream: the bars (or lines) follow it.
 * The API's `progress.percent` is the run's overall percent; each stage owns a span of it.
 */
import type { StreamEvent } from './types.js';

/**
 * The span of the overall percent each stage covers (workers/pipeline.ts's `percents` table and
 * the `queued` percents of run-stage.ts); a stop run is a stage of its own.
 */
const SPANS: Record<string, [number, number]> = {
  build: [0, 10],
  setup: [10, 35],
  deploy: [35, 100],
};

/** The stage's own percent (0–100) of an overall percent. */
export function stagePercent(stage: string, overall: number): number {
  const [from, to] = SPANS[stage] ?? [0, 100];
  return Math.round(Math.min(100, Math.max(0, ((overall - from) / (to - from)) * 100)));
}

export interface StageState {
  name: string;
  percent: number;
  step: string;
  state: 'queued' | 'running' | 'done' | 'failed';
  startedAt?: number;
  doneAt?: number;
}

/** Keeps each stage's state; `apply` answers which stages an event changed. */
export class StageTracker {
  readonly stages = new Map<string, StageState>();

  /** The stage, created (queued) the first time it is named. */
  stage(name: string): StageState {
    let s = this.stages.get(name);
    if (!s) {
      s = { name, percent: 0, step: 'queued', state: 'queued' };
      this.stages.set(name, s);
    }
    return s;
  }

  /** Applies one event; returns the stages whose state changed. */
  apply(e: StreamEvent): StageState[] {
    if (e.event === 'history' && e.data.stage) {
      const s = this.stage(e.data.stage);
      const at = Date.parse(e.data.created_at);
      if (e.data.kind === 'stage_started') {
        Object.assign(s, { state: 'running', startedAt: s.startedAt ?? at });
        s.step = s.step === 'queued' ? 'started' : s.step;
        return [s];
      }
      // a failed stage also ends with stage_finished, carrying the error code: its bar stays
      // where it stopped and the run's end marks it failed
      if (e.data.kind === 'stage_finished' && !e.data.code) {
        Object.assign(s, { state: 'done', percent: 100, step: 'done', doneAt: at });
        return [s];
      }
      return [];
    }
    if (e.event === 'progress' && e.data.progress) {
      const { stage, step, percent } = e.data.progress;
      const s = this.stage(stage);
      // a finished stage keeps its 100%; the last run's `done` progress names the last stage
      if (s.state === 'done' || s.state === 'failed' || step === 'queued' || step === 'done') {
        return [];
      }
      return this.move(s, step, stagePercent(stage, percent));
    }
    if (e.event === 'log') {
      // output of a step whose progress event was coalesced away still names the step
      const s = this.stage(e.data.stage);
      return s.state === 'running' ? this.move(s, e.data.step, s.percent) : [];
    }
    return [];
  }

  /** Marks the stage that was under way as failed at `step`. */
  fail(step: string): StageState | undefined {
    const running = [...this.stages.values()].reverse().find((s) => s.state !== 'done');
    if (running) {
      Object.assign(running, { state: 'failed', step: `failed at ${step}` });
    }
    return running;
  }

  private move(s: StageState, step: string, percent: number): StageState[] {
    // the bar never goes back (a rollback's steps sit at lower percents than promote)
    const next = Math.max(s.percent, percent);
    if (step === s.step && next === s.percent) {
      return [];
    }
    Object.assign(s, { step, percent: next, state: 'running' });
    return [s];
  }
}
