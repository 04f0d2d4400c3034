/**
 * A throw-away PostgreSQL cluster (Debian's binaries) on a free loopback port, for tests that
 * take the database away: `stop()` and `start()` again on the same port simulate an outage.
 * It never touches the machine's own cluster on 5432.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { appendFile, chmod, chown, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';

const PG_ROOT = '/usr/lib/postgresql';
const run = promisify(execFile);

export interface ThrowawayPg {
  port: number;
  /** `postgresql://postgres@127.0.0.1:PORT/postgres` (trust auth). */
  url: string;
  /** Fast shutdown (clients are disconnected), waiting until the server is gone. */
  stop(): Promise<void>;
  /** Starts it again on the same port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** SIGSTOPs the postmaster and its backends: sockets stay open, nothing answers. */
  freeze(): void;
  /** SIGCONTs a frozen cluster. */
  thaw(): void;
  /** Stops it if running and removes every file; idempotent. */
  close(): Promise<void>;
}

/** Debian's newest `/usr/lib/postgresql/<version>/bin` that has initdb, or undefined. */
export function findPgBinDir(): string | undefined {
  if (!existsSync(PG_ROOT)) {
    return undefined;
  }
  const versions = readdirSync(PG_ROOT)
    .filter((v) => existsSync(path.join(PG_ROOT, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? path.join(PG_ROOT, versions[0], 'bin') : undefined;
}

/** Runs a PostgreSQL binary; as root through `runuser -u postgres` (initdb and postgres refuse root). */
function pgCommand(bin: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0
    ? ['runuser', ['-u', 'postgres', '--', bin, ...args]]
    : [bin, args];
}

/** Creates and starts a fresh cluster; `bin` defaults to findPgBinDir(). */
export async function startThrowawayPg(bin = findPgBinDir()): Promise<ThrowawayPg> {
  if (!bin) {
    throw new Error(`no PostgreSQL under ${PG_ROOT}: install the Debian package postgresql`);
  }
  // the postgres user must traverse the temp dir (mkdtemp makes it 0700 and root's)
  const root = await mkdtemp(path.join(os.tmpdir(), 'stagecoach-pg-'));
  await chmod(root, 0o711);
  const home = path.join(root, 'pg'); // postgres-owned: data dir, socket and log
  await mkdir(home, { mode: 0o700 });
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
    await chown(home, uid, gid);
  }
  const cluster = new Cluster(bin, root, home);
  try {
    await cluster.init();
    await cluster.startOnFreePort();
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return cluster;
}

class Cluster implements ThrowawayPg {
  port = 0;
  private readonly data: string;
  private readonly log: string;
  // a test that dies before close() must not leave a postmaster behind
  private readonly killOnExit = (): void => {
    this.tryThaw();
    try {
      execFileSync(...this.ctl(['-m', 'immediate', 'stop']), { stdio: 'ignore', cwd: this.root });
    } catch {
      // not running
    }
  };

  constructor(
    private readonly bin: string,
    private readonly root: string,
    private readonly home: string,
  ) {
    this.data = path.join(home, 'data');
    this.log = path.join(home, 'postgres.log');
    process.once('exit', this.killOnExit);
  }

  get url(): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/postgres`;
  }

  async init(): Promise<void> {
    const initdb = path.join(this.bin, 'initdb');
    const args = ['-D', this.data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C'];
    await run(...pgCommand(initdb, [...args, '--no-sync', '--no-instructions']), {
      cwd: this.root,
    });
    // durability is pointless for a throw-away cluster; turning it off makes start-up fast
    await this.configure([
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${this.home}'`,
      'fsync = off',
      'synchronous_commit = off',
      'full_page_writes = off',
    ]);
  }

  /** Appends settings; a later line wins, so the port can be changed by appending again. */
  private configure(lines: string[]): Promise<void> {
    return appendFile(path.join(this.data, 'postgresql.conf'), `\n${lines.join('\n')}\n`);
  }

  async startOnFreePort(): Promise<void> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      this.port = await freePort();
      await this.configure([`port = ${this.port}`]);
      try {
        return await this.start();
      } catch (err) {
        lastError = err; // most likely someone took the port between freePort and bind
      }
    }
    throw lastError;
  }

  async start(): Promise<void> {
    try {
      await run(...this.ctl(['-l', this.log, '-w', '-t', '30', 'start']), { cwd: this.root });
    } catch (err) {
      const tail = (await readFile(this.log, 'utf8').catch(() => '')).slice(-1000);
      throw new Error(`PostgreSQL did not start on port ${this.port}: ${tail}`, { cause: err });
    }
  }

  async stop(): Promise<void> {
    await run(...this.ctl(['-m', 'fast', '-w', '-t', '30', 'stop']), { cwd: this.root });
  }

  freeze(): void {
    this.signalAll('SIGSTOP');
  }

  thaw(): void {
    this.signalAll('SIGCONT');
  }

  /** Thaws a frozen cluster before stopping it: a stopped postmaster ignores pg_ctl's signal. */
  private tryThaw(): void {
    try {
      this.thaw();
    } catch {
      // not running (stale or missing postmaster.pid)
    }
  }

  /** The postmaster first, so it cannot fork a backend we would miss. */
  private signalAll(sig: NodeJS.Signals): void {
    const pidFile = path.join(this.data, 'postmaster.pid');
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    process.kill(pid, sig);
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
    for (const child of children.split(/\s+/).filter(Boolean)) {
      process.kill(Number(child), sig);
    }
  }

  async close(): Promise<void> {
    process.removeListener('exit', this.killOnExit);
    if (existsSync(path.join(this.data, 'postmaster.pid'))) {
      this.tryThaw();
      await run(...this.ctl(['-m', 'immediate', '-w', 'stop']), { cwd: this.root }).catch(
        () => undefined, // already stopped between the check and the call
      );
    }
    await rm(this.root, { recursive: true, force: true });
  }

  private ctl(args: string[]): [string, string[]] {
    return pgCommand(path.join(this.bin, 'pg_ctl'), ['-D', this.data, ...args]);
  }
}
