/** A local sandbox target: a directory on the worker's machine, commands run as child processes. */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { insideDir } from './paths.js';
import {
  appendTail,
  outputText,
  type ExecOptions,
  type ExecResult,
  type Transport,
} from './types.js';

/** The only variables a target command inherits from the worker (no secrets of ours leak). */
const INHERITED_ENV = [
  'PATH',
  'LANG',
  'LC_ALL',
  'TZ',
  'USER',
  'LOGNAME',
  'SHELL',
  'HOME',
  'TMPDIR',
];

export class LocalTransport implements Transport {
  readonly kind = 'local';
  readonly describe: string;

  constructor(readonly workdir: string) {
    this.describe = `local:${workdir}`;
  }

  /** Runs argv directly (no shell) in its own process group, so abort kills the whole tree. */
  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    await mkdir(this.workdir, { recursive: true });
    const env: Record<string, string> = {};
    for (const key of INHERITED_ENV) {
      const value = process.env[key];
      if (value !== undefined) {
        env[key] = value;
      }
    }
    const child = spawn(argv[0], argv.slice(1), {
      cwd: insideDir(this.workdir, opts.cwd ?? '.'),
      env: { ...env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (data: string) => {
      const chunk = outputText(data);
      stdout = appendTail(stdout, chunk);
      opts.onOutput?.('stdout', chunk);
    });
    child.stderr.setEncoding('utf8').on('data', (data: string) => {
      const chunk = outputText(data);
      stderr = appendTail(stderr, chunk);
      opts.onOutput?.('stderr', chunk);
    });
    const onAbort = () => killGroup(child.pid);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await new Promise<ExecResult>((resolve, reject) => {
        child.once('error', reject);
        child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
      });
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Copies atomically: a partial file never appears under the final name. Like the SSH
   * transport, the file is 0600 and a directory created for it 0700 (bundles hold the env).
   */
  async putFile(localPath: string, remotePath: string): Promise<void> {
    const dest = insideDir(this.workdir, remotePath);
    await mkdir(path.dirname(dest), { recursive: true, mode: 0o700 });
    const part = `${dest}.part`;
    await rm(part, { force: true }); // a stale .part would keep its old mode
    await copyFile(localPath, part, constants.COPYFILE_EXCL);
    await chmod(part, 0o600);
    await rename(part, dest);
  }

  async readFile(remotePath: string): Promise<Buffer> {
    return readFile(insideDir(this.workdir, remotePath));
  }

  async close(): Promise<void> {}
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) {
    return;
  }
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
