/** One command in a persistent shell (ssh-shell.ts): its output, its pid, its end frames, its abort. */
import { ABORT_GRACE_MS, type ChannelHooks, type RunOptions } from './ssh-exec.js';
import { appendTail, type ExecResult, type OutputStream } from './types.js';

/** One command in a shell: its streams, its pid, its end frames. */
export class ShellRun {
  onSettled?: () => void;
  private readonly out = { stdout: '', stderr: '' };
  private readonly ended = { stdout: false, stderr: false };
  private status: { code: number | null; signal: string | null } = { code: null, signal: null };
  private pid?: number;
  private aborted = false;
  private settled = false;
  private graceTimer?: NodeJS.Timeout;
  private readonly onAbort = (): void => this.abort();

  constructor(
    private readonly opts: RunOptions,
    private readonly hooks: ChannelHooks,
    private readonly resolve: (r: ExecResult) => void,
    private readonly reject: (e: Error) => void,
    private readonly giveUp: () => void,
  ) {
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** True once the command's process exists (it reported its pid). */
  get started(): boolean {
    return this.pid !== undefined;
  }

  killed(): ExecResult {
    return { code: null, signal: 'SIGKILL', ...this.out };
  }

  finish(settle: () => void): void {
    if (!this.settled) {
      this.settled = true;
      clearTimeout(this.graceTimer);
      this.opts.signal?.removeEventListener('abort', this.onAbort);
      this.onSettled?.();
      settle();
    }
  }

  fail(err: Error): void {
    this.finish(() => this.reject(err));
  }

  /** The shell went away while the command ran. */
  lost(cause?: unknown): void {
    this.finish(() =>
      this.aborted ? this.resolve(this.killed()) : this.reject(this.hooks.lost(cause)),
    );
  }

  emit(stream: OutputStream, chunk: string): void {
    this.out[stream] = appendTail(this.out[stream], chunk);
    this.opts.onOutput?.(stream, chunk);
  }

  frame(stream: OutputStream, frame: string): void {
    const [, kind, value = '', signal = ''] = frame.split(':');
    if (stream === 'stdout' && kind === 'p') {
      this.pid = Number(value);
      if (this.aborted) {
        this.killRemote();
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
  private abort(): void {
    this.aborted = true;
    this.graceTimer ??= setTimeout(() => {
      this.giveUp();
      this.finish(() => this.resolve(this.killed()));
    }, ABORT_GRACE_MS);
    if (this.pid !== undefined) {
      this.killRemote();
    }
  }

  private killRemote(): void {
    void (this.hooks.killGroup?.(this.pid!) ?? Promise.resolve()).catch(() => undefined);
  }
}
