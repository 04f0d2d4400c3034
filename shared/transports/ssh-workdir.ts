/** The workdir of an SSH target: `~` forms resolved against the remote $HOME, created when missing. */
import path from 'node:path';
import { shellJoin } from '../shell.js';
import { TransportError } from './errors.js';
import { connectionLost, hostPort, type SshTarget } from './ssh-errors.js';
import type { ChannelHooks } from './ssh-exec.js';
import type { ShellPool } from './ssh-shell-pool.js';

/** Resolves `~`, `~/x` and relative workdirs against the remote $HOME, then `mkdir -p`s it. */
export async function resolveWorkdir(
  shells: ShellPool,
  t: SshTarget,
  workdir: string,
): Promise<string> {
  const lost = (cause: unknown): Error => connectionLost(t, 'connect', cause);
  const failures: ChannelHooks = { lost, openFailed: lost };
  const failed = (what: string, stderr: string): TransportError =>
    new TransportError(
      'ssh_workdir_failed',
      `${what} on ${t.user}@${hostPort(t)}: ${stderr.trim() || 'no error output'}`,
      'Check the workdir of the target and that the user may create it.',
    );
  let abs = workdir;
  if (!path.posix.isAbsolute(workdir)) {
    const home = await shells.run(shellJoin(['sh', '-c', 'printf %s "$HOME"']), {}, failures);
    if (home.code !== 0 || !home.stdout.startsWith('/')) {
      throw failed('cannot read $HOME', home.stderr);
    }
    abs = path.posix.join(home.stdout, workdir.replace(/^~(\/|$)/, ''));
  }
  abs = path.posix.normalize(abs);
  abs = abs.length > 1 ? abs.replace(/\/+$/, '') : abs;
  const made = await shells.run(shellJoin(['mkdir', '-p', '--', abs]), {}, failures);
  if (made.code !== 0) {
    throw failed(`cannot create the workdir ${abs}`, made.stderr);
  }
  return abs;
}
