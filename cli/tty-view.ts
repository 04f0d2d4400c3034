/** The terminal view of a `--follow`: one cli-progress bar per stage, log lines above them. */
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { duration } from './format.js';
import { isShown, LineSplitter, type LogLine } from './log-lines.js';
import { StageTracker, type StageState } from './stages.js';
import type { Deployment, StreamEvent } from './types.js';
import { historyLine, type FollowView } from './view.js';

const FORMAT = ' {stage} |{bar}| {percentage}% {step}';
/**
 * Erase the line first: cli-progress writes logged text where its bars were and clears only
 * the first of those lines, so a shorter log line would keep the tail of an old bar.
 */
const ERASE_LINE = '\x1b[2K';

export class TtyView implements FollowView {
  private readonly tracker = new StageTracker();
  private readonly lines = new LineSplitter();
  private readonly bars = new Map<string, SingleBar>();
  private stopped = false;
  private readonly multi = new MultiBar(
    {
      format: FORMAT,
      stream: process.stdout,
      hideCursor: true,
      clearOnComplete: false,
      autopadding: true,
      barsize: 30,
      // logged lines move the bars down: an unchanged bar must be drawn again too
      forceRedraw: true,
    },
    Presets.shades_classic,
  );

  event(e: StreamEvent): void {
    this.tracker.apply(e).forEach((s) => this.draw(s));
    if (e.event === 'history') {
      const line = historyLine(e.data);
      if (line) {
        this.say(line);
      }
    } else if (e.event === 'log') {
      this.lines.push(e.data).forEach((l) => this.log(l));
    }
  }

  reconnecting(reason: string, delayMs: number): void {
    this.say(`event stream interrupted (${reason}); reconnecting in ${duration(delayMs)}`);
  }

  done(d: Deployment | null): void {
    this.lines.flush().forEach((l) => this.log(l));
    if (d?.error_code) {
      const s = this.tracker.fail(d.error_step ?? 'unknown');
      if (s) {
        this.draw(s);
      }
    }
    this.stop();
  }

  stop(): void {
    if (!this.stopped) {
      this.stopped = true;
      // stop() alone drops lines logged since the last redraw
      this.multi.update();
      this.multi.stop();
    }
  }

  private say(line: string): void {
    this.multi.log(`${ERASE_LINE}${line}\n`);
  }

  private log(l: LogLine): void {
    if (isShown(l.text)) {
      this.say(`  ${l.stage}/${l.step} │ ${l.text}`);
    }
  }

  private draw(s: StageState): void {
    const took =
      s.state === 'done' && s.startedAt && s.doneAt
        ? ` in ${duration(s.doneAt - s.startedAt)}`
        : '';
    const payload = { stage: s.name.padEnd(6), step: `${s.step}${took}` };
    const existing = this.bars.get(s.name);
    if (existing) {
      existing.update(s.percent, payload);
    } else {
      this.bars.set(s.name, this.multi.create(100, s.percent, payload));
    }
  }
}
