/** One command on one exec channel of an ssh2 Client: streamed, abortable, aware of a dropped link. */
import type { Client, ClientChannel } from 'ssh2';
import { appendTail, outputText, type ExecOptions, type ExecResult } from './types.js';

/** How long an aborted command gets to report its end before we stop waiting for it. */
export const ABORT_GRACE_MS = 2_000;

/** Prefix for a command whose first stdout line is its pid (sshd makes it a session leader). */
export const PID_HEADER = 'echo $$ &&';

/** What the caller decides: errors for a lost connection or a failed open, and how to kill a pid. */
export interface ChannelHooks {
  /** The channel closed with no exit status: the connection (or the session) went away. */
  lost(cause?: unknown): Error;
  /** Opening the channel failed; `err` may mean the connection is gone. */
  openFailed(err: unknown): Error;
  /** Kills the process group of `pid` on the remote (commands started with PID_HEADER). */
  killGroup?(pid: number): Promise<void>;
}

/** What a run needs of ExecOptions (cwd and env are part of the command line). */
export type RunOptions = Pick<ExecOptions, 'signal' | 'onOutput'>;

/** Runs `command` (one complete shell command line, built with shellJoin) and collects its result. */
export function runChannel(
  client: Client,
  command: string,
  opts: RunOptions,
  hooks: ChannelHooks,
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const run = new ChannelRun(opts, hooks, resolve, reject);
    if (opts.signal?.aborted) {
      run.finish(() => resolve(run.killed()));
      return;
    }
    try {
      client.exec(command, (err, ch) => (err ? run.fail(hooks.openFailed(err)) : run.attach(ch)));
    } catch (err) {
      run.fail(hooks.openFailed(err));
    }
  });
}

/** The state of one running command. */
class ChannelRun {
  private readonly out = { stdout: '', stderr: '' };
  private channel?: ClientChannel;
  private exit?: { code: number | null; signal: string | null };
  private pid?: number;
  private head: string | undefined;
  private aborted = false;
  private settled = false;
  private graceTimer?: NodeJS.Timeout;
  private readonly onAbort = (): void => this.abort();

  constructor(
    private readonly opts: RunOptions,
    private readonly hooks: ChannelHooks,
    private readonly resolve: (r: ExecResult) => void,
    private readonly reject: (e: Error) => void,
  ) {
    this.head = hooks.killGroup ? '' : undefined;
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  killed(): ExecResult {
    return { code: null, signal: 'SIGKILL', ...this.out };
  }

  finish(settle: () => void): void {
    if (!this.settled) {
      this.settled = true;
      clearTimeout(this.graceTimer);
      this.opts.signal?.removeEventListener('abort', this.onAbort);
      settle();
    }
  }

  fail(err: Error): void {
    this.finish(() => this.reject(err));
  }

  attach(ch: ClientChannel): void {
    this.channel = ch;
    ch.setEncoding('utf8');
    ch.stderr.setEncoding('utf8');
    ch.on('data', (chunk: string) => this.stdout(outputText(chunk)));
    ch.stderr.on('data', (chunk: string) => this.emit('stderr', outputText(chunk)));
    ch.on('exit', (code: number | null, signal?: string) => {
      this.exit = { code: code ?? null, signal: signal ?? null };
    });
    ch.on('close', () => this.closed());
    if (this.aborted) {
      this.abort();
    }
  }

  private closed(): void {
    if (this.head) {
      this.emit('stdout', this.head); // no pid line arrived: the output is the command's own
    }
    if (this.exit !== undefined) {
      this.finish(() => this.resolve({ ...this.exit!, ...this.out }));
    } else if (this.aborted) {
      this.finish(() => this.resolve(this.killed()));
    } else {
      this.fail(this.hooks.lost());
    }
  }

  /** Strips the pid line PID_HEADER printed, then passes output on. */
  private stdout(chunk: string): void {
    if (this.head === undefined) {
      this.emit('stdout', chunk);
      return;
    }
    this.head += chunk;
    const newline = this.head.indexOf('\n');
    if (newline < 0) {
      return;
    }
    const line = this.head.slice(0, newline);
    const rest = this.head.slice(newline + 1);
    this.head = undefined;
    this.pid = /^\d+$/.test(line) ? Number(line) : undefined;
    if (this.pid === undefined) {
      this.emit('stdout', `${line}\n`);
    } else if (this.aborted) {
      this.killRemote();
    }
    if (rest) {
      this.emit('stdout', rest);
    }
  }

  private emit(stream: 'stdout' | 'stderr', chunk: string): void {
    this.out[stream] = appendTail(this.out[stream], chunk);
    this.opts.onOutput?.(stream, chunk);
  }

  /**
   * Sends the SSH `signal` request (sshd honours it only with privilege separation, so not for
   * root logins), kills the process group over a second channel, then closes this one.
   */
  private abort(): void {
    this.aborted = true;
    this.graceTimer ??= setTimeout(() => {
      this.channel?.close();
      this.finish(() => this.resolve(this.killed()));
    }, ABORT_GRACE_MS);
    const ch = this.channel;
    if (ch === undefined) {
      return;
    }
    try {
      ch.signal('KILL');
    } catch {
      // the channel is already closing
    }
    if (this.pid !== undefined) {
      this.killRemote();
    } else if (this.head === undefined) {
      ch.close();
    }
  }

  private killRemote(): void {
    const pid = this.pid!;
    void (this.hooks.killGroup?.(pid) ?? Promise.resolve())
      .catch(() => undefined)
      .finally(() => this.channel?.close());
  }
}
