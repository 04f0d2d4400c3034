/** Turns log chunks (output as it came, cut anywhere) into whole lines for people. */
import type { LogChunk } from './types.js';

/** A line of a step's output. */
export interface LogLine {
  stage: string;
  step: string;
  stream: string;
  text: string;
}

/**
 * The machine-readable result line each target command prints for the worker: noise for a
 * person (it is in `--json` and `logs --raw`).
 */
const RESULT_LINE = /^STAGECOACH_RESULT /;

/** True for lines worth showing a person. */
export const isShown = (text: string): boolean => text.trim() !== '' && !RESULT_LINE.test(text);

/** Buffers the unfinished end of each step's stream until its newline (or `flush`). */
export class LineSplitter {
  private partial = new Map<string, LogLine>();

  /** The whole lines `chunk` completes. */
  push(c: LogChunk): LogLine[] {
    const key = `${c.stage}/${c.step}/${c.stream}`;
    const text = (this.partial.get(key)?.text ?? '') + c.chunk;
    const parts = text.split('\n');
    const rest = parts.pop() ?? '';
    if (rest) {
      this.partial.set(key, { stage: c.stage, step: c.step, stream: c.stream, text: rest });
    } else {
      this.partial.delete(key);
    }
    return parts.map((t) => ({ stage: c.stage, step: c.step, stream: c.stream, text: t }));
  }

  /** The unfinished lines, at the end of the stream. */
  flush(): LogLine[] {
    const lines = [...this.partial.values()];
    this.partial.clear();
    return lines;
  }
}
