/** What every remote command run shares, on its own channel or in a persistent shell. */
import type { ChannelHooks, RunOptions } from './ssh-exec.js';
import { appendTail, type ExecResult, type OutputStream } from './types.js';

/** How long an aborted command gets to report its end before we stop waiting for it. */
export const ABORT_GRACE_MS = 2_000;

/**
 * One command's bounded output tails, its pid, and its settling exactly once: the subclass
 * says how output arrives and how an abort reaches the remote process group.
 */
export abstract class RemoteRun {
  /** Called once when the run settles (resolved or rejected). */
  onSettled?: () => void;
  protected readonly out = { stdout: '', stderr: '' };
  protected pid?: number;
  protected aborted = false;
  private settled = false;
  private graceTimer?: NodeJS.Timeout;
  private readonly onAbort = (): void => this.abort();

  constructor(
    protected readonly opts: RunOptions,
    protected readonly hooks: ChannelHooks,
    protected readonly resolve: (r: ExecResult) => void,
    protected readonly reject: (e: Error) => void,
  ) {
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** The result of a command that was killed. */
  killed(): ExecResult {
    return { code: null, signal: 'SIGKILL', ...this.out };
  }

  /** Settles the run once: later calls do nothing. */
  finish(settle: () => void): void {
    if (!this.settled) {
      this.settled = true;
      clearTimeout(this.graceTimer);
      this.opts.signal?.removeEventListener('abort', this.onAbort);
      this.onSettled?.();
      settle();
    }
  }

  /** Rejects the run with `err`. */
  fail(err: Error): void {
    this.finish(() => this.reject(err));
  }

  /** Keeps a chunk in its stream's tail and passes it on. */
  emit(stream: OutputStream, chunk: string): void {
    this.out[stream] = appendTail(this.out[stream], chunk);
    this.opts.onOutput?.(stream, chunk);
  }

  /** Starts waiting ABORT_GRACE_MS for the command's end; then `expire` and a killed result. */
  protected graceThen(expire: () => void): void {
    this.graceTimer ??= setTimeout(() => {
      expire();
      this.finish(() => this.resolve(this.killed()));
    }, ABORT_GRACE_MS);
  }

  /** Kills the command's process group on the remote (a failed kill is the grace timer's job). */
  protected killGroup(): Promise<void> {
    return (this.hooks.killGroup?.(this.pid!) ?? Promise.resolve()).catch(() => undefined);
  }

  /** Reacts to the caller's abort signal. */
  protected abstract abort(): void;
}
