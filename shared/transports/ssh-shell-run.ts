/** One command in a persistent shell (ssh-shell.ts): its output, its pid, its end frames, its abort. */
import { RemoteRun } from './remote-run.js';
import type { ChannelHooks, RunOptions } from './ssh-exec.js';
import type { ExecResult, OutputStream } from './types.js';

/** One command in a shell: its streams, its pid, its end frames. */
export class ShellRun extends RemoteRun {
  private readonly ended = { stdout: false, stderr: false };
  private status: { code: number | null; signal: string | null } = { code: null, signal: null };

  constructor(
    opts: RunOptions,
    hooks: ChannelHooks,
    resolve: (r: ExecResult) => void,
    reject: (e: Error) => void,
    private readonly giveUp: () => void,
  ) {
    super(opts, hooks, resolve, reject);
  }

  /** True once the command's process exists (it reported its pid). */
  get started(): boolean {
    return this.pid !== undefined;
  }

  /** The shell went away while the command ran. */
  lost(cause?: unknown): void {
    this.finish(() =>
      this.aborted ? this.resolve(this.killed()) : this.reject(this.hooks.lost(cause)),
    );
  }

  /** A frame of this command: its pid, or one stream's end (stdout's carries the exit status). */
  frame(stream: OutputStream, frame: string): void {
    const [, kind, value = '', signal = ''] = frame.split(':');
    if (stream === 'stdout' && kind === 'p') {
      this.pid = Number(value);
      if (this.aborted) {
        void this.killGroup();
      }
      return;
    }
    if (kind === 'e') {
      this.ended[stream] = true;
      if (stream === 'stdout') {
        this.status = signal
          ? { code: null, signal: `SIG${signal}` }
          : { code: Number(value), signal: null };
      }
    }
    if (this.ended.stdout && this.ended.stderr) {
      this.finish(() => this.resolve({ ...this.status, ...this.out }));
    }
  }

  /** Kills the command's process group (over another shell or channel) and awaits its end. */
  protected abort(): void {
    this.aborted = true;
    this.graceThen(() => this.giveUp());
    if (this.pid !== undefined) {
      void this.killGroup();
    }
  }
}
