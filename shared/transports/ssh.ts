/**
 * The SSH transport: one connection per stage; commands through persistent shells on it
 * (ssh-shell-pool.ts), files over its SFTP.
 */
import path from 'node:path';
import type { Client, ConnectConfig, SFTPWrapper } from 'ssh2';
import SftpClient from 'ssh2-sftp-client';
import { shellJoin, shellQuote } from '../shell.js';
import { insideDir } from './paths.js';
import { credentials } from './ssh-credentials.js';
import { hostKeyFingerprint, normalizeFingerprint } from './host-key.js';
import {
  connectError,
  connectionLost,
  hostPort,
  type HostKeyCheck,
  type SshTarget,
} from './ssh-errors.js';
import type { ChannelHooks } from './ssh-exec.js';
import { sftpCode, sftpReplace, sftpUpload, type SftpLink } from './ssh-put.js';
import { ShellPool } from './ssh-shell-pool.js';
import { resolveWorkdir } from './ssh-workdir.js';
import type { ExecOptions, ExecResult, Transport } from './types.js';

/** How to reach a target over SSH. Exactly one of keyPath / agentSocket is normally given. */
export interface SshConnectOptions extends SshTarget {
  /** `SHA256:…` fingerprint the server must present; without it any key is accepted and exposed. */
  expectedHostKey?: string;
  /** `~`, `~/x`, relative (to the remote $HOME) or absolute; created when missing. */
  workdir: string;
  /** SSH_KEYS_DIR: keyPath must name a file inside it (a relative keyPath is taken in it). */
  keysDir: string;
  connectTimeoutMs?: number;
  keepaliveIntervalMs?: number;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Mode of every file putFile writes (bundles hold the app's env). */
const PRIVATE_FILE = 0o600;
/** SSH_FX_NO_SUCH_FILE: what an open in a missing directory answers. */
const SFTP_NO_SUCH_FILE = 2;
/** ssh2-sftp-client logs connection events to the console unless given callbacks. */
const QUIET = { error: () => {}, end: () => {}, close: () => {} };

/** Connects, verifies the host key, authenticates, opens SFTP, and resolves and creates the workdir. */
export async function connectSsh(opts: SshConnectOptions): Promise<SshTransport> {
  const target: SshTarget = pickTarget(opts);
  const auth = await credentials(target, opts.keysDir);
  const sftp = new SftpClient('stagecoach', QUIET);
  const client = clientOf(sftp);
  const keys: HostKeyCheck = {
    expected: opts.expectedHostKey ? normalizeFingerprint(opts.expectedHostKey) : undefined,
  };
  let firstError: unknown;
  const onError = (err: Error): void => {
    firstError ??= err;
  };
  client.on('error', onError);
  // small packets both ways (a command, its frames): Nagle plus delayed ACKs cost ~40 ms each
  client.once('connect', () => client.setNoDelay(true));
  const shells = new ShellPool(client);
  // the first shell starts (its login shell reads the rc files) while the SFTP channel opens
  let workdir: Promise<string> | undefined;
  client.once('ready', () => {
    workdir = resolveWorkdir(shells, target, opts.workdir);
    workdir.catch(() => undefined); // awaited below, unless the connect fails first
  });
  const timeoutMs = opts.connectTimeoutMs ?? 10_000;
  const config: ConnectConfig = {
    host: opts.host,
    port: opts.port,
    username: opts.user,
    ...auth,
    readyTimeout: timeoutMs,
    keepaliveInterval: opts.keepaliveIntervalMs ?? 5_000,
    keepaliveCountMax: 3,
    hostVerifier: (key: Buffer): boolean => {
      keys.presented = hostKeyFingerprint(key);
      return keys.expected === undefined || keys.expected === keys.presented;
    },
  };
  try {
    // ssh2's readyTimeout covers TCP, handshake and auth; this also bounds opening the SFTP channel
    await withDeadline(sftp.connect(config), timeoutMs + 1_000);
  } catch (err) {
    client.destroy();
    throw connectError(firstError ?? err, target, keys);
  } finally {
    client.removeListener('error', onError);
  }
  try {
    const abs = await (workdir ?? resolveWorkdir(shells, target, opts.workdir));
    return new SshTransport(sftp, client, shells, target, keys.presented ?? '', abs);
  } catch (err) {
    await sftp.end().catch(() => undefined);
    throw err;
  }
}

/** A connected target; `hostKey` is the fingerprint the server presented. */
export class SshTransport implements Transport {
  readonly kind = 'ssh';
  readonly describe: string;
  private down = false;
  private closed = false;
  private lastError: unknown;

  constructor(
    private readonly sftp: SftpClient,
    private readonly client: Client,
    private readonly shells: ShellPool,
    private readonly target: SshTarget,
    readonly hostKey: string,
    readonly workdir: string,
  ) {
    this.describe = `ssh:${target.user}@${hostPort(target)}`;
    client.on('error', (err) => {
      this.lastError ??= err;
    });
    client.on('close', () => {
      this.down = true;
    });
  }

  /** False once the connection is gone or closed (a parked connection is then not reused). */
  get alive(): boolean {
    return !this.down && !this.closed;
  }

  /**
   * Runs argv as `cd -- <cwd> && exec env K=V… argv`, every word quoted by shellQuote, in one of
   * the connection's shells, in its own process group (abort kills the group). An exit status
   * above 128 that names a signal is reported as that signal, as a shell reports it.
   */
  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    if (argv.length === 0) {
      throw new Error('exec needs a command');
    }
    const env = Object.entries(opts.env ?? {}).map(([key, value]) => {
      if (!ENV_NAME.test(key)) {
        throw new Error(`invalid environment variable name: ${key}`);
      }
      return `${key}=${value}`;
    });
    const cwd = this.inside(opts.cwd ?? '.');
    if (this.closed) {
      throw new Error(`${this.describe}: the transport is closed`);
    }
    const line = `cd -- ${shellQuote(cwd)} && exec ${shellJoin(['env', ...env, ...argv])}`;
    return this.shells.run(line, opts, this.hooks(`\`${argv[0]}\``));
  }

  /**
   * Uploads to `<remote>.part`, then renames it over `<remote>`: no partial final file. What we
   * ship (bundles) holds secrets: the file is 0600 before its first byte is written, and a
   * directory created for it is 0700. Round trips: open, the writes, close, rename; the
   * directory is only created (one command) when the open finds it missing.
   */
  async putFile(localPath: string, remotePath: string): Promise<void> {
    const dest = this.inside(remotePath);
    const part = `${dest}.part`;
    const link = this.sftpLink();
    try {
      await sftpUpload(link, localPath, part, PRIVATE_FILE).catch(async (err: unknown) => {
        if (sftpCode(err) !== SFTP_NO_SUCH_FILE) {
          throw err;
        }
        await this.check(['mkdir', '-p', '-m', '700', '--', path.posix.dirname(dest)]);
        await sftpUpload(link, localPath, part, PRIVATE_FILE);
      });
      if (await sftpReplace(link, part, dest)) {
        return;
      }
    } catch (err) {
      throw await this.transferError(err, `the upload of ${remotePath}`, part);
    } finally {
      link.release();
    }
    await this.check(['mv', '-f', '--', part, dest]);
  }

  /** The raw SFTP session, with a promise that rejects once the connection closes. */
  private sftpLink(): SftpLink & { release(): void } {
    let onClose = (): void => undefined;
    const lost = new Promise<never>((_, reject) => {
      onClose = () => reject(new Error('No SFTP connection: the connection closed'));
    });
    lost.catch(() => undefined); // raced by every request; the request's caller sees it
    if (this.down || this.closed) {
      onClose();
    }
    this.client.once('close', onClose);
    const release = () => void this.client.removeListener('close', onClose);
    return { sftp: rawSftp(this.sftp), lost, release };
  }

  /** Reads a whole file over SFTP; a missing file rejects with code ENOENT. */
  async readFile(remotePath: string): Promise<Buffer> {
    const file = this.inside(remotePath);
    try {
      const data = await this.sftp.get(file);
      return Buffer.isBuffer(data) ? data : Buffer.from(String(data));
    } catch (err) {
      throw await this.transferError(err, `the read of ${remotePath}`);
    }
  }

  /** Ends the connection; calling it again does nothing. */
  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    this.shells.close();
    if (this.down) {
      return;
    }
    await withDeadline(this.sftp.end(), 5_000).catch(() => this.client.destroy());
  }

  /** Resolves a path relative to the workdir; throws when it would escape. */
  private inside(rel: string): string {
    return insideDir(this.workdir, rel, path.posix);
  }

  /** Runs a helper command and throws with its stderr when it fails. */
  private async check(argv: string[]): Promise<void> {
    const result = await this.exec(argv);
    if (result.code !== 0) {
      throw new Error(`\`${shellJoin(argv)}\` failed on ${this.describe}: ${result.stderr.trim()}`);
    }
  }

  private hooks(during: string): ChannelHooks {
    return {
      killGroup: async (pid) => {
        const kill = shellJoin(['kill', '-KILL', '--', `-${pid}`]);
        await this.shells.run(kill, {}, { lost: killFailed, openFailed: killFailed });
      },
      lost: (cause) => connectionLost(this.target, during, cause ?? this.lastError),
      openFailed: (err) => {
        if (this.closed) {
          return new Error(`${this.describe}: the transport is closed`, { cause: err });
        }
        return this.down || isDisconnect(err)
          ? connectionLost(this.target, during, err)
          : new Error(`${this.describe}: cannot open a channel: ${String(err)}`, { cause: err });
      },
    };
  }

  /** Classifies an SFTP failure: a dropped connection, a missing file, or the error itself. */
  private async transferError(err: unknown, during: string, partial?: string): Promise<Error> {
    // the SFTP request can fail a moment before ssh2 reports the socket closed
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (this.down || isDisconnect(err)) {
      return connectionLost(this.target, during, err);
    }
    if (partial !== undefined) {
      await this.sftp.delete(partial, true).catch(() => undefined);
    }
    const code = (err as { code?: unknown }).code;
    if (code === 2 || code === 'ENOENT') {
      return Object.assign(new Error(`${during} failed: no such file`, { cause: err }), {
        code: 'ENOENT',
      });
    }
    return err instanceof Error ? err : new Error(String(err));
  }
}

const killFailed = (cause?: unknown): Error => new Error('remote kill failed', { cause });

/** Messages ssh2 and ssh2-sftp-client use when the connection is gone. */
function isDisconnect(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return /No response from server|Not connected|No SFTP connection|Unexpected (close|end)|ECONNRESET/i.test(
    message,
  );
}

function pickTarget(opts: SshConnectOptions): SshTarget {
  const { host, port, user, keyPath, agentSocket } = opts;
  return { host, port, user, keyPath, agentSocket };
}

/** The ssh2 SFTP session that ssh2-sftp-client wraps (its types do not declare it). */
function rawSftp(sftp: SftpClient): SFTPWrapper {
  return (sftp as unknown as { sftp: SFTPWrapper }).sftp;
}

/** The underlying ssh2 Client that ssh2-sftp-client owns (its types do not declare it). */
function clientOf(sftp: SftpClient): Client {
  return (sftp as unknown as { client: Client }).client;
}

/** Rejects when `promise` has not settled within `ms`. */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = Object.assign(new Error(`timed out after ${ms} ms`), { level: 'client-timeout' });
      reject(err);
    }, ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
