/** What a `--follow` shows: the interface, the plain-lines view and the JSON-lines view. */
import { bar, duration } from './format.js';
import { isShown, LineSplitter, type LogLine } from './log-lines.js';
import { StageTracker, type StageState } from './stages.js';
import type { Deployment, HistoryEvent, StreamEvent } from './types.js';

/** Receives a followed deployment's events and shows them. */
export interface FollowView {
  event(e: StreamEvent): void;
  /** The stream broke; the follower reconnects after `delayMs`. */
  reconnecting(reason: string, delayMs: number): void;
  /** The run rested (or the stream ended): the deployment as it is now, null when deleted. */
  done(d: Deployment | null): void;
  /** Stops drawing (Ctrl-C, an error) and leaves the terminal clean. */
  stop(): void;
}

/** Writes a line to stdout. */
export const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/** Writes a line to stderr. */
export const err = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** The line a history event earns beside the bars, if any. */
export function historyLine(h: HistoryEvent): string | null {
  switch (h.kind) {
    case 'status':
      return `status: ${h.from_status ?? '-'} → ${h.to_status}`;
    case 'run_started':
      return `run started: ${h.message ?? h.stage ?? ''} (by ${h.actor})`;
    case 'stage_requeued':
      return `${h.stage ?? 'stage'} handed back to the queue: ${h.message ?? ''}`;
    case 'cancel_requested':
      return `cancel requested by ${h.actor}`;
    default:
      return null;
  }
}

/** A stage's progress as one line: `setup  [####................]  20% preflight`. */
export function stageLine(s: StageState): string {
  const took =
    s.state === 'done' && s.startedAt && s.doneAt ? ` in ${duration(s.doneAt - s.startedAt)}` : '';
  return `${s.name.padEnd(6)} ${bar(s.percent)} ${String(s.percent).padStart(3)}% ${s.step}${took}`;
}

/** A log line under the bars. */
export const logText = (l: LogLine): string => `  │ ${l.text}`;

/** Plain lines, for a pipe or a file: a progress line per step, log lines between them. */
export class PlainView implements FollowView {
  readonly tracker = new StageTracker();
  private readonly lines = new LineSplitter();

  event(e: StreamEvent): void {
    for (const s of this.tracker.apply(e)) {
      out(stageLine(s));
    }
    if (e.event === 'history') {
      const line = historyLine(e.data);
      if (line) {
        out(line);
      }
    } else if (e.event === 'log') {
      this.lines
        .push(e.data)
        .filter((l) => isShown(l.text))
        .forEach((l) => out(logText(l)));
    }
  }

  reconnecting(reason: string, delayMs: number): void {
    err(`event stream interrupted (${reason}); reconnecting in ${duration(delayMs)}`);
  }

  done(d: Deployment | null): void {
    this.lines
      .flush()
      .filter((l) => isShown(l.text))
      .forEach((l) => out(logText(l)));
    if (d?.error_code) {
      const s = this.tracker.fail(d.error_step ?? 'unknown');
      if (s) {
        out(stageLine(s));
      }
    }
  }

  stop(): void {}
}

/** JSON lines for scripts: every event as `{event, id?, data}`, then the deployment. */
export class JsonView implements FollowView {
  event(e: StreamEvent): void {
    out(JSON.stringify(e));
  }

  reconnecting(reason: string, delayMs: number): void {
    err(`event stream interrupted (${reason}); reconnecting in ${duration(delayMs)}`);
  }

  done(d: Deployment | null): void {
    out(JSON.stringify({ event: 'deployment', data: d }));
  }

  stop(): void {}
}
