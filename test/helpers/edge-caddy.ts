/** A real managed Caddy in tests: requests through it, its process, its admin socket. */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { IN_CI } from './env.js';

export const CADDY = '/usr/bin/caddy';
/** The unprivileged user stagecoach runs its managed Caddy as when it deploys as root. */
export const CADDY_USER = 'stagecoach-caddy';

/** Fails under CI=true (naming the Debian package) or skips when Caddy is not installed. */
export function requireCaddy(ctx: Mocha.Context): void {
  if (existsSync(CADDY)) {
    return;
  }
  if (IN_CI) {
    throw new Error(`${CADDY} is missing: apt-get install caddy (Debian package caddy)`);
  }
  ctx.skip();
}

export type Answer = { status: number; body: string } | { error: string };

/** GET through the edge: HTTPS checked against `ca` for `domain`, or plain HTTP when no ca. */
export function edgeGet(
  port: number,
  domain: string,
  urlPath: string,
  ca?: string,
): Promise<Answer> {
  return new Promise((resolve) => {
    const options = {
      host: '127.0.0.1',
      port,
      path: urlPath,
      headers: { host: `${domain}:${port}` },
      agent: false,
      timeout: 5000,
    };
    const done = (res: http.IncomingMessage): void => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    };
    const req = ca
      ? https.get({ ...options, ca, servername: domain }, done)
      : http.get(options, done);
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => resolve({ error: err.message }));
  });
}

/** The status of an answer, or its error. */
export function statusOf(a: Answer): number | string {
  return 'status' in a ? a.status : a.error;
}

/** Repeats `get` until it answers `status` (Caddy issues internal certificates on start). */
export async function waitForStatus(
  get: () => Promise<Answer>,
  status: number,
  timeoutMs = 15_000,
): Promise<number | string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await get();
    if (statusOf(answer) === status || Date.now() > deadline) {
      return statusOf(answer);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Pids of live processes whose command line mentions `text` (a test's edge dir). */
export function pidsMentioning(text: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(text);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** SIGKILLs every process whose command line mentions one of `texts`. */
export function killMentioning(...texts: string[]): void {
  for (const pid of texts.flatMap(pidsMentioning)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** The TCP ports process `pid` listens on (`ss -ltnpH`). */
export function tcpListenPorts(pid: number): number[] {
  const out = spawnSync('ss', ['-ltnpH'], { encoding: 'utf8' }).stdout;
  return out
    .split('\n')
    .filter((line) => line.includes(`pid=${pid},`))
    .map((line) => Number(/:(\d+)\s/.exec(line.split(/\s+/)[3] + ' ')?.[1]))
    .sort((a, b) => a - b);
}

/** A /proc/<pid>/status field (e.g. `Uid`, `CapEff`), whitespace-separated. */
export function procStatus(pid: number, field: string): string[] {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  return line
    ? line
        .slice(field.length + 1)
        .trim()
        .split(/\s+/)
    : [];
}

/** The uid of a user, or undefined when it does not exist. */
export function uidOf(user: string): number | undefined {
  const r = spawnSync('id', ['-u', user], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.trim()) : undefined;
}

/** A free TCP port below 1024 (to show that Caddy may bind one without being root). */
export async function freePrivilegedPort(): Promise<number> {
  for (let port = 1000; port > 600; port--) {
    const server = net.createServer();
    const free = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, () => resolve(true));
    });
    if (free) {
      await new Promise((resolve) => server.close(resolve));
      return port;
    }
  }
  throw new Error('no free port between 601 and 1000');
}

/** Where a Caddy admin API listens: a unix socket, or a TCP port on 127.0.0.1. */
export type AdminAddress = { socket: string } | { port: number };

/** A request to Caddy's admin API with curl, optionally as another user (`runuser -u`). */
export function adminRequest(
  address: AdminAddress,
  method: string,
  urlPath: string,
  opts: { body?: unknown; as?: string } = {},
): { code: number | null; stdout: string; stderr: string } {
  const curl = ['curl', '-sS', '--max-time', '5', '-X', method, '-w', '\n%{http_code}'];
  if ('socket' in address) {
    // over a socket, Caddy 2.6's admin API accepts an empty Host only (curl: `Host;`)
    curl.push('--unix-socket', address.socket, '-H', 'Host;');
  }
  if (opts.body !== undefined) {
    curl.push('-H', 'Content-Type: application/json', '--data', JSON.stringify(opts.body));
  }
  curl.push(
    'socket' in address
      ? `http://localhost${urlPath}`
      : `http://127.0.0.1:${address.port}${urlPath}`,
  );
  const argv = opts.as ? ['runuser', '-u', opts.as, '--', ...curl] : curl;
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The site files of `domain` in an edge dir (keyed by deployment: `<domain>--<id>.caddy`). */
export function siteFiles(edgeDir: string, domain: string): string[] {
  const dir = path.join(edgeDir, 'sites');
  if (!existsSync(dir)) {
    return [];
  }
  return readdirSync(dir)
    .filter((f) => f.startsWith(`${domain}--`) && f.endsWith('.caddy'))
    .map((f) => path.join(dir, f));
}

/** The one site file of `domain` (throws when there is not exactly one). */
export function siteFile(edgeDir: string, domain: string): string {
  const files = siteFiles(edgeDir, domain);
  if (files.length !== 1) {
    throw new Error(`expected one site file for ${domain} in ${edgeDir}, found ${files.length}`);
  }
  return files[0];
}
