/** One command on one exec channel of an ssh2 Client: streamed, abortable, aware of a dropped link. */
import type { Client, ClientChannel } from 'ssh2';
import { RemoteRun } from './remote-run.js';
import { outputText, type ExecOptions, type ExecResult } from './types.js';

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

/** The state of one running command on its own channel. */
class ChannelRun extends RemoteRun {
  private channel?: ClientChannel;
  private exit?: { code: number | null; signal: string | null };
  private head: string | undefined;

  constructor(
    opts: RunOptions,
    hooks: ChannelHooks,
    resolve: (r: ExecResult) => void,
    reject: (e: Error) => void,
  ) {
    super(opts, hooks, resolve, reject);
    this.head = hooks.killGroup ? '' : undefined;
  }

  /** Takes the opened channel's output, exit and close. */
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

  /**
   * Sends the SSH `signal` request (sshd honours it only with privilege separation, so not for
   * root logins), kills the process group over a second channel, then closes this one.
   */
  protected abort(): void {
    this.aborted = true;
    this.graceThen(() => this.channel?.close());
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
    void this.killGroup().finally(() => this.channel?.close());
  }
}
