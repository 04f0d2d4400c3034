/** A throw-away OpenSSH server on a random loopback port, for the SSH transport tests. */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { IN_CI } from './env.js';
import { freePort } from './ports.js';

export const SSHD_BINARY = '/usr/sbin/sshd';

export interface Sshd {
  host: '127.0.0.1';
  port: number;
  /** The user running the tests (root here): sshd can only log in as itself unless root. */
  user: string;
  /** `SHA256:…` as `ssh-keygen -lf host_key.pub` prints it. */
  hostKeyFingerprint: string;
  /** A key listed in authorized_keys. */
  clientKeyPath: string;
  /** A valid key the server does not accept. */
  wrongKeyPath: string;
  dir: string;
  /** Kills the server and its sessions and removes its directory; idempotent. */
  stop(): Promise<void>;
  /** SIGKILLs the listener and every session process it forked (a server dying mid-transfer). */
  killAll(): Promise<void>;
  /** SIGSTOPs the listener and its sessions: a peer that stops answering without closing. */
  freezeAll(): void;
}

/** Skips the test when `binary` is missing; under CI=true fails, naming the Debian package. */
export function requireBinary(binary: string, pkg: string, ctx: Mocha.Context): void {
  if (existsSync(binary)) {
    return;
  }
  if (IN_CI) {
    throw new Error(
      `${binary} is missing: install the Debian package ${pkg} (apt-get install ${pkg})`,
    );
  }
  ctx.skip();
}

const run = promisify(execFile);

/**
 * Starts sshd -D with fresh host and client keys in a temp dir; resolves once the port accepts.
 * `extraConfig` lines are appended to sshd_config (e.g. `SetEnv NAME=value` for sessions).
 */
export async function startSshd(extraConfig: string[] = []): Promise<Sshd> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'stagecoach-sshd-'));
  const key = (name: string): string => path.join(dir, name);
  await Promise.all(['host_key', 'client_key', 'wrong_key'].map((name) => keygen(key(name))));
  await copyFile(key('client_key.pub'), key('authorized_keys'));
  const { stdout } = await run('ssh-keygen', ['-lf', key('host_key.pub')]);
  const hostKeyFingerprint = stdout.split(' ')[1];
  await mkdir('/run/sshd', { recursive: true });
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      const pid = await launch(dir, port, extraConfig);
      return server(dir, port, pid, hostKeyFingerprint);
    } catch (err) {
      lastError = err; // most likely someone took the port between freePort and bind
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError;
}

function server(dir: string, port: number, pid: number, hostKeyFingerprint: string): Sshd {
  const killTree = (): void => killProcessTree(pid);
  process.once('exit', killTree);
  const gone = async (): Promise<void> => {
    while (isAlive(pid)) {
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return {
    host: '127.0.0.1',
    port,
    user: os.userInfo().username,
    hostKeyFingerprint,
    clientKeyPath: path.join(dir, 'client_key'),
    wrongKeyPath: path.join(dir, 'wrong_key'),
    dir,
    async killAll() {
      killTree();
      await gone();
    },
    freezeAll() {
      freezeTree(pid);
    },
    async stop() {
      process.removeListener('exit', killTree);
      killTree();
      await gone();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function keygen(file: string): Promise<void> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'stagecoach-test', '-f', file]);
}

/** Writes the config, spawns sshd, and waits for the port; returns the listener's pid. */
async function launch(dir: string, port: number, extraConfig: string[]): Promise<number> {
  const config = path.join(dir, 'sshd_config');
  const log = path.join(dir, `sshd-${port}.log`);
  await writeFile(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${path.join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      'Subsystem sftp internal-sftp',
      'PermitRootLogin prohibit-password',
      'LogLevel VERBOSE',
      ...extraConfig,
      '',
    ].join('\n'),
  );
  const child = spawn(SSHD_BINARY, ['-D', '-f', config, '-E', log], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
      break;
    }
    if (await accepts(port)) {
      return child.pid;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  const text = await readFile(log, 'utf8').catch(() => '');
  throw new Error(`sshd did not listen on 127.0.0.1:${port}: ${text.trim()}`);
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** Freezes the whole tree (so nothing forks while we look), then SIGKILLs all of it. */
function killProcessTree(root: number): void {
  for (const pid of freezeTree(root)) {
    signal(pid, 'SIGKILL');
  }
}

/** SIGSTOPs `root` and every descendant until no new one appears; returns them. */
function freezeTree(root: number): Set<number> {
  const seen = new Set<number>();
  let grew = true;
  while (grew) {
    grew = false;
    for (const pid of [root, ...descendants(root)]) {
      if (!seen.has(pid)) {
        seen.add(pid);
        grew = true;
        signal(pid, 'SIGSTOP');
      }
    }
  }
  return seen;
}

/** Every descendant pid, from /proc/<pid>/task/<tid>/children (or pgrep -P without it). */
function descendants(pid: number): number[] {
  const children = childrenOf(pid);
  return children.flatMap((child) => [child, ...descendants(child)]);
}

function childrenOf(pid: number): number[] {
  const taskDir = `/proc/${pid}/task`;
  try {
    return readdirSync(taskDir).flatMap((tid) =>
      readFileSync(`${taskDir}/${tid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    try {
      return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);
    } catch {
      return []; // gone, or no children (pgrep exits 1)
    }
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** True while the process exists and is not a zombie. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}
