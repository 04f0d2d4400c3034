/**
 * Hand-assembled releases for the target-side scripts (scripts/target/manage.sh), laid out as
 * docs/target-layout.md's bundle, and helpers to run manage.sh in them and read its results.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { chmod, cp, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCRIPT_NAMES } from '../../shared/bundle/entries.js';
import { renderSite, type EdgePlan } from '../../shared/edge.js';
import { shellEnvFile } from '../../shared/shell.js';

/** The repository's root directory. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A finished command's exit code and output. */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (killed after timeoutMs) and collects its output. */
export function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 50_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs `./manage.sh args` inside a release directory. */
export function manage(home: string, release: string, ...args: string[]): Promise<RunResult> {
  return manageWith({}, home, release, ...args);
}

/** Runs `./manage.sh args` inside a release directory with extra environment variables. */
export function manageWith(
  env: NodeJS.ProcessEnv,
  home: string,
  release: string,
  ...args: string[]
): Promise<RunResult> {
  return run('./manage.sh', args, {
    cwd: path.join(home, 'releases', release),
    env: { ...process.env, STAGECOACH_HOME: home, ...env },
  });
}

/** The JSON of the `STAGECOACH_RESULT` line, which must be stdout's last line. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function resultOf(r: RunResult): any {
  const lines = r.stdout.trimEnd().split('\n');
  const last = lines[lines.length - 1] ?? '';
  expect(last, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`).to.match(/^STAGECOACH_RESULT \{/);
  return JSON.parse(last.slice('STAGECOACH_RESULT '.length));
}

/** The last line of `text` (trailing newlines ignored). */
export function lastLine(text: string): string {
  const lines = text.trimEnd().split('\n');
  return lines[lines.length - 1] ?? '';
}

/** Fails with the command's output unless it exited 0. */
export function ok(r: RunResult): RunResult {
  expect(r.code, `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`).to.equal(0);
  return r;
}

/** Fields of /proc/<pid>/stat after the command name: [state, ppid, pgrp, ...]. */
export function procStat(pid: number): string[] | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return line.slice(line.lastIndexOf(') ') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** True when a live process has this pid (zombies count as dead: PID 1 may never reap them). */
export function alive(pid: number): boolean {
  const f = procStat(pid);
  return f !== undefined && f[0] !== 'Z';
}

/** True when any live process belongs to process group pgid. */
export function groupAlive(pgid: number): boolean {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .some((d) => {
      const f = procStat(Number(d));
      return f !== undefined && f[2] === String(pgid) && f[0] !== 'Z';
    });
}

/** True when `bin` is found on PATH. */
export function onPath(bin: string): boolean {
  return (process.env.PATH ?? '')
    .split(':')
    .some((dir) => dir !== '' && existsSync(path.join(dir, bin)));
}

/** True when Debian's PostgreSQL server binaries are installed. */
export function postgresBinaries(): boolean {
  const base = '/usr/lib/postgresql';
  return (
    existsSync(base) &&
    readdirSync(base).some((v) => existsSync(path.join(base, v, 'bin', 'postgres')))
  );
}

/** Skips the suite when a binary is missing; under CI=true fails, naming the Debian package. */
export function requireTools(ctx: Mocha.Context, tools: [boolean, string, string][]): void {
  const missing = tools
    .filter(([present]) => !present)
    .map(([, bin, pkg]) => `${bin} (apt-get install ${pkg})`);
  if (missing.length === 0) {
    return;
  }
  if (process.env.CI === 'true') {
    throw new Error(`missing binaries: ${missing.join(', ')}`);
  }
  ctx.skip();
}

/** A service of a hand-assembled release. */
export interface ServiceSpec {
  name: string;
  port: number;
  start: string;
  build?: string;
  health?: string;
}

/** A hand-assembled release: scenario example, services, resources, env, edge. */
export interface ReleaseSpec {
  scenario: string;
  services: ServiceSpec[];
  resources?: Record<string, number | ''>;
  env?: Record<string, string>;
  healthTimeout?: number;
  /** config/edge.env's variables (and the sites of config/edge/ from them); no file when absent. */
  edge?: Record<string, string>;
}

/** Assembles releases/<name> by hand, laid out as docs/target-layout.md's bundle. */
export async function assembleRelease(
  home: string,
  name: string,
  spec: ReleaseSpec,
): Promise<string> {
  const dir = path.join(home, 'releases', name);
  const resources = spec.resources ?? {};
  await mkdir(path.join(dir, 'config', 'services'), { recursive: true });
  await mkdir(path.join(dir, 'config', 'resources'), { recursive: true });
  for (const script of SCRIPT_NAMES) {
    await cp(path.join(ROOT, 'scripts', 'target', script), path.join(dir, script));
    await chmod(path.join(dir, script), 0o755);
  }
  // Like the bundle: lib/*.sh, which manage.sh sources.
  const lib = path.join(ROOT, 'scripts', 'target', 'lib');
  await mkdir(path.join(dir, 'lib'));
  for (const file of readdirSync(lib).filter((f) => f.endsWith('.sh'))) {
    await cp(path.join(lib, file), path.join(dir, 'lib', file));
  }
  await cp(path.join(ROOT, 'examples', spec.scenario), path.join(dir, 'scenario'), {
    recursive: true,
    filter: (src) => !src.includes('node_modules'),
  });
  const scenarioName = spec.scenario;
  await writeFile(
    path.join(dir, 'config', 'deployment.json'),
    JSON.stringify({
      scenario: scenarioName,
      services: spec.services.map((s) => s.name),
      resources: Object.keys(resources),
      ports: Object.fromEntries(spec.services.map((s) => [s.name, s.port])),
      health: { timeout_s: spec.healthTimeout ?? 30 },
    }),
  );
  await writeFile(
    path.join(dir, 'config', 'stagecoach.env'),
    shellEnvFile({
      STAGECOACH_SCENARIO: scenarioName,
      STAGECOACH_SERVICES: spec.services.map((s) => s.name).join(' '),
      STAGECOACH_RESOURCES: Object.keys(resources).join(' '),
      STAGECOACH_HEALTH_TIMEOUT: String(spec.healthTimeout ?? 30),
    }),
  );
  await writeFile(path.join(dir, 'config', 'app.env'), shellEnvFile(spec.env ?? {}), {
    mode: 0o600,
  });
  for (const s of spec.services) {
    await writeFile(
      path.join(dir, 'config', 'services', `${s.name}.env`),
      shellEnvFile({
        SERVICE_NAME: s.name,
        SERVICE_PORT: String(s.port),
        SERVICE_START: s.start,
        SERVICE_BUILD: s.build ?? '',
        SERVICE_HEALTH: s.health ?? '/health',
      }),
    );
  }
  if (spec.edge) {
    await writeEdge(dir, spec.edge, spec.services);
  }
  for (const [kind, port] of Object.entries(resources)) {
    await writeFile(
      path.join(dir, 'config', 'resources', `${kind}.conf`),
      shellEnvFile({ RESOURCE_PORT: String(port) }),
    );
  }
  return dir;
}

/**
 * Writes config/edge.env from `edge` and, like the bundle, config/edge/<port>.caddy for the edge
 * service's port and EDGE_SPARE_PORT (none when EDGE_SERVICE names no service of `services`).
 */
export async function writeEdge(
  dir: string,
  edge: Record<string, string>,
  services: ServiceSpec[],
): Promise<void> {
  await writeFile(path.join(dir, 'config', 'edge.env'), shellEnvFile(edge));
  const tls = (edge.EDGE_TLS || 'off') as EdgePlan['tls'];
  const plan: EdgePlan = {
    domain: (edge.EDGE_DOMAIN ?? '').toLowerCase(),
    tls,
    email: edge.EDGE_EMAIL,
    httpPort: Number(edge.EDGE_HTTP_PORT || 80),
    httpsPort: tls === 'off' ? null : Number(edge.EDGE_HTTPS_PORT || 443),
    service: edge.EDGE_SERVICE || (services[0]?.name ?? ''),
  };
  const port = services.find((s) => s.name === plan.service)?.port;
  const ports =
    port === undefined
      ? []
      : [port, ...(edge.EDGE_SPARE_PORT ? [Number(edge.EDGE_SPARE_PORT)] : [])];
  await rm(path.join(dir, 'config', 'edge'), { recursive: true, force: true });
  await mkdir(path.join(dir, 'config', 'edge'));
  for (const p of ports) {
    await writeFile(path.join(dir, 'config', 'edge', `${p}.caddy`), `${renderSite(plan, p)}\n`);
  }
}

/** Stops everything a home may still run, then removes it. */
export async function cleanUp(home: string | undefined, pids: Set<number>): Promise<void> {
  if (!home) {
    return;
  }
  const releases = existsSync(path.join(home, 'releases'))
    ? readdirSync(path.join(home, 'releases'))
    : [];
  if (releases.length > 0) {
    await manage(home, releases[0], 'stop', '--resources').catch(() => undefined);
  }
  for (const pid of pids) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  await rm(home, { recursive: true, force: true });
}
