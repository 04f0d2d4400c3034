/**
 * One long-lived `bash` on one exec channel, running commands one at a time: sshd starts the
 * login shell (and its rc files) once per shell instead of once per command.
 *
 * Each command runs as a background job of that bash in its own process group (the pid it
 * reports first is the group's id: abort kills the group), stdin from /dev/null, stdout and
 * stderr straight to the channel. After it ends, the shell writes an end frame on both streams;
 * frames carry a random nonce (ssh-frames.ts), so output cannot end a command early.
 */
import { randomBytes } from 'node:crypto';
import type { Client, ClientChannel } from 'ssh2';
import { FrameScanner } from './ssh-frames.js';
import type { ChannelHooks, RunOptions } from './ssh-exec.js';
import { ShellRun } from './ssh-shell-run.js';
import { outputText, type ExecResult, type OutputStream } from './types.js';

/** What the channel runs; `--norc`: the login shell that starts it has read the rc files. */
export const SHELL_COMMAND = 'exec bash --noprofile --norc';

/**
 * Sent once: bash's own stderr quieted (its job notices are not a command's output), the
 * channel's stderr kept on fd 3; then a ready frame on each stream (what the login shell's rc
 * files printed before it is dropped).
 */
const setup = (n: string): string =>
  `exec 3>&2 2>/dev/null; printf '%s:r\\n' ${n}; printf '%s:r\\n' ${n} >&3\n`;

/**
 * Wraps one complete command line (built with shellJoin): job control on while the job starts
 * (its own process group, whose id is the pid it reports first) and off while the shell waits
 * (so a stopped command is waited for, as before, not reported as ended). The shell then
 * reports `:e:<status>:<signal name>`; a status above 128 that names a signal is that signal.
 */
const wrap = (n: string, line: string): string =>
  `set -m; ( exec 2>&3 3>&-; printf '%s:p:%s\\n' ${n} "$BASHPID"\n${line}\n) </dev/null & set +m\n` +
  `wait "$!"; s=$? g=; [ "$s" -gt 128 ] && g=$(kill -l "$s"); ` +
  `printf '%s:e:%s:%s\\n' ${n} "$s" "$g"; printf '%s:e\\n' ${n} >&3\n`;

/** The shell ended before the command started (or never started): the command did not run. */
export class ShellUnavailable extends Error {
  constructor(readonly started: boolean) {
    super(started ? 'the remote shell ended' : 'the remote shell did not start');
  }
}

/** A bash on its own channel; `alive` turns false once the channel closes or is given up. */
export class RemoteShell {
  alive = true;
  private readonly nonce = randomBytes(16).toString('hex');
  private readonly scanners = {
    stdout: new FrameScanner(this.nonce),
    stderr: new FrameScanner(this.nonce),
  };
  private readonly ready = { stdout: false, stderr: false };
  private readonly opening: Promise<ClientChannel>;
  private channel?: ClientChannel;
  private current?: ShellRun;
  private exitInfo?: string;

  constructor(
    client: Client,
    private readonly onClose: (shell: RemoteShell) => void,
    command = SHELL_COMMAND,
  ) {
    this.opening = new Promise((resolve, reject) => {
      try {
        client.exec(command, (err, ch) => (err ? reject(err) : resolve(this.attach(ch))));
      } catch (err) {
        reject(err);
      }
    });
    this.opening.catch(() => this.gone());
  }

  /** Runs one command line; rejects with ShellUnavailable when it certainly did not run. */
  async run(line: string, opts: RunOptions, hooks: ChannelHooks): Promise<ExecResult> {
    const ch = await this.opening.catch((err: unknown) => {
      throw hooks.openFailed(err);
    });
    return new Promise((resolve, reject) => {
      const run = new ShellRun(opts, hooks, resolve, reject, () => this.giveUp());
      if (opts.signal?.aborted) {
        run.finish(() => resolve(run.killed()));
      } else if (!this.alive) {
        run.fail(new ShellUnavailable(this.ready.stdout));
      } else {
        this.current = run;
        run.onSettled = () => (this.current = undefined);
        ch.write(wrap(this.nonce, line));
      }
    });
  }

  /** Ends the shell (its stdin): an idle bash exits at once. */
  end(): void {
    this.channel?.end();
  }

  private attach(ch: ClientChannel): ClientChannel {
    this.channel = ch;
    ch.setEncoding('utf8');
    ch.stderr.setEncoding('utf8');
    ch.on('data', (chunk: string) => this.feed('stdout', chunk));
    ch.stderr.on('data', (chunk: string) => this.feed('stderr', chunk));
    ch.on('exit', (code: number | null, signal?: string) => {
      this.exitInfo = signal ? `killed by ${signal}` : `exit ${code}`;
    });
    ch.on('close', () => this.closed());
    ch.write(setup(this.nonce));
    return ch;
  }

  /** Routes a stream's pieces: text before the ready frame is the login shell's (dropped). */
  private feed(stream: OutputStream, chunk: string): void {
    for (const piece of this.scanners[stream].push(chunk)) {
      if ('frame' in piece) {
        if (piece.frame === ':r') {
          this.ready[stream] = true;
        } else {
          this.current?.frame(stream, piece.frame);
        }
      } else if (this.ready[stream]) {
        // no current command: a background process of an earlier one still writes; dropped
        this.current?.emit(stream, outputText(piece.text));
      }
    }
  }

  private closed(): void {
    const run = this.current;
    this.gone();
    if (run === undefined) {
      return;
    }
    if (!run.started) {
      run.fail(new ShellUnavailable(this.ready.stdout));
    } else {
      // an exit status means the session ended, not the connection; both lose the command
      const cause = this.exitInfo && new Error(`the remote shell ended (${this.exitInfo})`);
      run.lost(cause);
    }
  }

  /** An aborted command did not report its end: this shell is out of step, close it. */
  private giveUp(): void {
    this.gone();
    this.channel?.close();
  }

  private gone(): void {
    if (this.alive) {
      this.alive = false;
      this.onClose(this);
    }
  }
}
