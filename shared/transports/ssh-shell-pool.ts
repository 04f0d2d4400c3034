/**
 * The persistent shells of one SSH connection. A command takes an idle shell (or starts one,
 * up to MAX_SHELLS: commands may run concurrently, e.g. a kill beside the command it kills);
 * when none can be had, or the target cannot start one, it runs on its own exec channel as
 * before (runChannel): same command line, same results.
 */
import type { Client } from 'ssh2';
import { PID_HEADER, runChannel, type ChannelHooks, type RunOptions } from './ssh-exec.js';
import { RemoteShell, SHELL_COMMAND, ShellUnavailable } from './ssh-shell.js';
import type { ExecResult } from './types.js';

/** Shells per connection (sshd allows 10 sessions by default; SFTP takes one). */
export const MAX_SHELLS = 4;

/** Runs command lines over a connection's shells. */
export class ShellPool {
  private readonly idle: RemoteShell[] = [];
  private count = 0;
  /** False once a shell failed to start here: no bash, a forced command, … */
  private usable = true;

  /** `shellCommand` starts a shell (tests give one that fails to show the fallback). */
  constructor(
    private readonly client: Client,
    private readonly shellCommand = SHELL_COMMAND,
  ) {}

  /**
   * Runs `line` (one complete command line built with shellJoin); with `hooks.killGroup` the
   * command is abortable (its process group is killed).
   */
  async run(line: string, opts: RunOptions, hooks: ChannelHooks): Promise<ExecResult> {
    const shell = this.acquire();
    if (shell === undefined) {
      return this.oneOff(line, opts, hooks);
    }
    try {
      return await shell.run(line, opts, hooks);
    } catch (err) {
      if (!(err instanceof ShellUnavailable)) {
        throw err;
      }
      this.usable &&= err.started;
      return this.oneOff(line, opts, hooks);
    } finally {
      if (shell.alive) {
        this.idle.push(shell);
      }
    }
  }

  /** Ends the idle shells (the connection's end ends the others). */
  close(): void {
    for (const shell of this.idle.splice(0)) {
      shell.end();
    }
  }

  /** Shells that are starting, running a command or idle. */
  get size(): number {
    return this.count;
  }

  private acquire(): RemoteShell | undefined {
    const shell = this.idle.pop();
    if (shell !== undefined) {
      return shell;
    }
    if (!this.usable || this.count >= MAX_SHELLS) {
      return undefined;
    }
    this.count++;
    const onClose = (gone: RemoteShell): void => {
      this.count--;
      const at = this.idle.indexOf(gone);
      if (at >= 0) {
        this.idle.splice(at, 1);
      }
    };
    return new RemoteShell(this.client, onClose, this.shellCommand);
  }

  /** The command on its own exec channel (sshd starts a login shell for it). */
  private oneOff(line: string, opts: RunOptions, hooks: ChannelHooks): Promise<ExecResult> {
    const command = hooks.killGroup ? `${PID_HEADER} ${line}` : line;
    return runChannel(this.client, command, opts, hooks);
  }
}
