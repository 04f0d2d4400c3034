/**
 * The target-side scripts (scripts/target/manage.sh, setup.sh) against docs/target-layout.md:
 * release directories are assembled by hand, and real services, PostgreSQL and Redis run.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { shellEnvFile } from '../../shared/shell.js';
import {
  alive,
  assembleRelease,
  manageWith,
  cleanUp,
  groupAlive,
  lastLine,
  manage,
  ok,
  onPath,
  postgresBinaries,
  procStat,
  requireTools,
  resultOf,
  ROOT,
  run,
  type RunResult,
} from '../helpers/target-release.js';

/** A TCP port that was free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function httpRequest(
  port: number,
  urlPath: string,
  method = 'GET',
  body?: unknown,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: urlPath,
        method,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        let data = '';
        res.on('data', (d: Buffer) => (data += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe('scripts/target/manage.sh: services', function () {
  let home: string | undefined;
  let webPort: number;
  const pids = new Set<number>();
  let firstPid = 0;
  let blocker: net.Server | undefined;

  before(async function () {
    requireTools(this, [
      [onPath('bash'), 'bash', 'bash'],
      [onPath('setsid'), 'setsid', 'util-linux'],
      [onPath('timeout'), 'timeout', 'coreutils'],
      [onPath('tar'), 'tar', 'tar'],
      [onPath('gzip'), 'gzip', 'gzip'],
      [onPath('node'), 'node', 'nodejs'],
    ]);
    home = await mkdtemp(path.join(os.tmpdir(), 'stagecoach-manage-'));
    webPort = await freePort();
    await assembleRelease(home, 'r1', {
      scenario: 'hello-web',
      services: [{ name: 'web', port: webPort, start: 'node server.js' }],
      env: { GREETING: "howdy, it's $HOME `quoted`" },
      healthTimeout: 20,
    });
  });

  after(async function () {
    await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()));
    await cleanUp(home, pids);
  });

  it('setup checks the tools, creates state/ and marks the release', async function () {
    const r = ok(await manage(home!, 'r1', 'setup'));
    const { tools } = resultOf(r);
    expect(tools, 'setup reads no command to guess a tool').not.to.have.property('node');
    expect(tools).to.include.keys('bash', 'tar', 'gzip', 'setsid', 'timeout', 'flock');
    expect(existsSync(path.join(home!, 'releases', 'r1', '.setup-ok'))).to.equal(true);
    expect(existsSync(path.join(home!, 'state'))).to.equal(true);
  });

  it('build runs once (hello-web has nothing to build)', async function () {
    expect(resultOf(ok(await manage(home!, 'r1', 'build')))).to.deep.equal({ skipped: false });
    expect(resultOf(ok(await manage(home!, 'r1', 'build')))).to.deep.equal({ skipped: true });
  });

  it('start runs the service detached in its own process group; promote points current', async function () {
    const { services } = resultOf(ok(await manage(home!, 'r1', 'start')));
    expect(services).to.have.length(1);
    expect(services[0]).to.include({ name: 'web', port: webPort });
    firstPid = services[0].pid;
    pids.add(firstPid);
    expect(alive(firstPid)).to.equal(true);
    expect(procStat(firstPid)?.[2], 'process group').to.equal(String(firstPid));
    expect(readFileSync(path.join(home!, 'state', 'run', 'web.pid'), 'utf8').trim()).to.equal(
      String(firstPid),
    );
    // current moves only once the release is healthy and promoted
    expect(existsSync(path.join(home!, 'current'))).to.equal(false);
    ok(await manage(home!, 'r1', 'health'));
    const promoted = resultOf(ok(await manage(home!, 'r1', 'promote')));
    expect(promoted).to.deep.equal({ release: 'r1', drained: [] });
    expect(await readlink(path.join(home!, 'current'))).to.equal('releases/r1');
    expect(existsSync(path.join(home!, 'releases', 'r1', '.promoted'))).to.equal(true);
  });

  it('health passes', async function () {
    const { services } = resultOf(ok(await manage(home!, 'r1', 'health')));
    expect(services).to.deep.equal([
      { name: 'web', process: true, port: true, http: true, http_status: 200 },
    ]);
  });

  it('status reports the service', async function () {
    const res = resultOf(ok(await manage(home!, 'r1', 'status')));
    const since = res.services[0]?.since;
    expect(since).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(res).to.deep.equal({
      services: [
        {
          name: 'web',
          pid: firstPid,
          running: true,
          port: webPort,
          // its supervisor's view (test/scripts/supervise.test.ts)
          state: 'running',
          restarts: 0,
          last_exit: null,
          last_exit_at: null,
          since,
        },
      ],
      resources: [],
    });
  });

  it('the app answers on its port with the app env', async function () {
    const res = await httpRequest(webPort, '/');
    expect(res.status).to.equal(200);
    expect(res.body).to.contain("howdy, it's $HOME `quoted`");
  });

  it('start again replaces the process and stays healthy', async function () {
    const { services } = resultOf(ok(await manage(home!, 'r1', 'start')));
    const pid = services[0].pid as number;
    pids.add(pid);
    expect(pid).to.not.equal(firstPid);
    expect(groupAlive(firstPid), 'old process group').to.equal(false);
    expect(alive(pid)).to.equal(true);
    const health = resultOf(ok(await manage(home!, 'r1', 'health', '20')));
    expect(health.services[0]).to.include({ http: true, http_status: 200 });
    firstPid = pid;
  });

  it('the service outlives its caller when the caller process group is killed', async function () {
    const child = spawn('bash', ['-c', './manage.sh start && exec sleep 60'], {
      cwd: path.join(home!, 'releases', 'r1'),
      env: { ...process.env, STAGECOACH_HOME: home! },
      detached: true,
    });
    const closed = new Promise((resolve) => child.on('close', resolve));
    let stdout = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('STAGECOACH_RESULT')) {
          resolve();
        }
      });
      child.on('close', () => reject(new Error(`manage.sh start ended early:\n${stdout}`)));
    });
    process.kill(-child.pid!, 'SIGKILL');
    await closed;
    const pid = JSON.parse(lastLine(stdout).slice('STAGECOACH_RESULT '.length)).services[0].pid;
    pids.add(pid);
    expect(alive(pid)).to.equal(true);
    ok(await manage(home!, 'r1', 'health', '20'));
    firstPid = pid;
  });

  it('refuses a port held by another process (exit 3) and leaves the running release alone', async function () {
    const heldPort = await freePort();
    blocker = net.createServer();
    await new Promise<void>((resolve) => blocker!.listen(heldPort, '127.0.0.1', resolve));
    await assembleRelease(home!, 'r2', {
      scenario: 'hello-web',
      services: [{ name: 'web', port: heldPort, start: 'node server.js' }],
    });
    const r = await manage(home!, 'r2', 'start');
    expect(r.code, r.stderr).to.equal(3);
    const message = lastLine(r.stderr);
    expect(message).to.contain(`port ${heldPort}`);
    expect(message).to.contain(`pid ${process.pid}`);
    expect(alive(firstPid), 'r1 keeps running').to.equal(true);
    expect(await readlink(path.join(home!, 'current'))).to.equal('releases/r1');
  });

  it('health fails with exit 1 and the log tail when /health answers 500', async function () {
    const port = await freePort();
    await assembleRelease(home!, 'r3', {
      scenario: 'hello-web',
      services: [{ name: 'web', port, start: 'node server.js' }],
      env: { HEALTH_STATUS: '500' },
    });
    const { services } = resultOf(ok(await manage(home!, 'r3', 'start')));
    pids.add(services[0].pid);
    expect(groupAlive(firstPid), 'r1 was replaced').to.equal(false);
    firstPid = services[0].pid;
    const started = Date.now();
    const r = await manage(home!, 'r3', 'health', '3');
    expect(r.code, r.stderr).to.equal(1);
    // bash's SECONDS ticks on wall-clock seconds, so a 3 s timeout can end just after 2 s.
    expect(Date.now() - started).to.be.within(2000, 15_000);
    expect(resultOf(r).services[0]).to.include({
      process: true,
      port: true,
      http: false,
      http_status: 500,
    });
    expect(r.stderr).to.contain('last 20 lines');
    expect(r.stderr).to.contain('GET /health');
    expect(lastLine(r.stderr)).to.match(/service web: .*500/);
  });

  it('health of a release that is not running fails at once', async function () {
    const r = await manage(home!, 'r1', 'health', '30');
    expect(r.code).to.equal(1);
    expect(lastLine(r.stderr)).to.contain('belongs to release r3');
  });

  it('stop kills the process group; stopping again is a no-op', async function () {
    const r = ok(await manage(home!, 'r3', 'stop'));
    expect(resultOf(r)).to.deep.equal({ stopped: ['web'] });
    expect(groupAlive(firstPid)).to.equal(false);
    expect(existsSync(path.join(home!, 'state', 'run', 'web.pid'))).to.equal(false);
    expect(resultOf(ok(await manage(home!, 'r3', 'stop')))).to.deep.equal({ stopped: [] });
    const status = resultOf(ok(await manage(home!, 'r3', 'status')));
    expect(status.services[0]).to.include({ running: false, pid: null });
  });
  it('start fails with exit 1 and the log tail when the service dies at once', async function () {
    await assembleRelease(home!, 'r4', {
      scenario: 'hello-web',
      services: [{ name: 'web', port: await freePort(), start: 'node missing.js' }],
    });
    const r = await manage(home!, 'r4', 'start');
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.contain('Cannot find module');
    expect(lastLine(r.stderr)).to.contain('service web: exited right after starting');
    expect(resultOf(ok(await manage(home!, 'r4', 'stop')))).to.deep.equal({ stopped: [] });
  });
});

/** True while some process holds an flock on `file` (probed with `flock -n`). */
async function lockHeld(file: string): Promise<boolean> {
  return (await run('flock', ['-n', file, 'true'])).code !== 0;
}

/** Starts `flock FILE sleep seconds` in the background; resolves once it holds the lock. */
async function holdLock(file: string, seconds: number): Promise<ChildProcess> {
  const holder = spawn('flock', [file, 'sleep', String(seconds)], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    if (await lockHeld(file)) {
      return holder;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`flock ${file} did not take the lock`);
}

describe('scripts/target/manage.sh: the per-target lock', function () {
  let home: string | undefined;
  const pids = new Set<number>();
  const holders: ChildProcess[] = [];
  const lockFile = (): string => path.join(home!, '.manage.lock');

  before(async function () {
    requireTools(this, [
      [onPath('flock'), 'flock', 'util-linux'],
      [onPath('setsid'), 'setsid', 'util-linux'],
      [onPath('node'), 'node', 'nodejs'],
    ]);
    home = await mkdtemp(path.join(os.tmpdir(), 'stagecoach-lock-'));
    await assembleRelease(home, 'r1', {
      scenario: 'hello-web',
      services: [{ name: 'web', port: await freePort(), start: 'node server.js' }],
    });
  });

  after(async function () {
    await Promise.all(
      holders.map((h) => h.exitCode === null && new Promise((r) => h.on('close', r))),
    );
    await cleanUp(home, pids);
  });

  it('start leaves the lock free: the service does not inherit it', async function () {
    const { services } = resultOf(ok(await manage(home!, 'r1', 'start')));
    pids.add(services[0].pid);
    expect(existsSync(lockFile())).to.equal(true);
    expect(await lockHeld(lockFile()), 'lock held after start').to.equal(false);
  });

  it('stop waits for a command holding the lock, then succeeds; status does not wait', async function () {
    const holder = await holdLock(lockFile(), 2);
    holders.push(holder);
    const started = Date.now();
    const stopping = manage(home!, 'r1', 'stop');
    const status = resultOf(ok(await manage(home!, 'r1', 'status')));
    expect(status.services[0].running).to.equal(true);
    expect(holder.exitCode, 'status returned while the lock was held').to.equal(null);
    const stop = ok(await stopping);
    expect(Date.now() - started, 'stop blocked on the lock').to.be.at.least(1500);
    expect(stop.stderr).to.contain('another stagecoach command is running on this target');
    expect(resultOf(stop)).to.deep.equal({ stopped: ['web'] });
  });

  it('gives up after STAGECOACH_LOCK_WAIT_S, naming the lock', async function () {
    holders.push(await holdLock(lockFile(), 3));
    const r = await run('./manage.sh', ['start'], {
      cwd: path.join(home!, 'releases', 'r1'),
      env: { ...process.env, STAGECOACH_HOME: home!, STAGECOACH_LOCK_WAIT_S: '1' },
    });
    expect(r.code, r.stderr).to.equal(1);
    expect(lastLine(r.stderr)).to.contain(`lock ${lockFile()}`);
    expect(lastLine(r.stderr)).to.contain('another stagecoach command is running on this target');
    expect(existsSync(path.join(home!, 'state', 'run', 'web.pid')), 'nothing started').to.equal(
      false,
    );
  });
});

describe('scripts/target/manage.sh: taking the lock over from a lost stage', function () {
  let home: string | undefined;
  const pids = new Set<number>();

  before(async function () {
    requireTools(this, [
      [onPath('flock'), 'flock', 'util-linux'],
      [onPath('setsid'), 'setsid', 'util-linux'],
      [onPath('node'), 'node', 'nodejs'],
    ]);
    home = await mkdtemp(path.join(os.tmpdir(), 'stagecoach-takeover-'));
    await assembleRelease(home, 'r1', {
      scenario: 'hello-web',
      services: [
        { name: 'web', port: await freePort(), start: 'node server.js', build: 'sleep 100131' },
      ],
    });
  });

  after(async () => {
    await cleanUp(home, pids);
  });

  /** `manage.sh build` under lease `lost`, in its own process group as a worker starts it. */
  async function orphanedBuild(): Promise<ChildProcess> {
    const child = spawn('./manage.sh', ['build'], {
      cwd: path.join(home!, 'releases', 'r1'),
      env: { ...process.env, STAGECOACH_HOME: home!, STAGECOACH_LEASE: 'lost-lease' },
      detached: true,
      stdio: 'ignore',
    });
    const deadline = Date.now() + 10_000;
    while ((await run('pgrep', ['-f', 'sleep 100131'])).code !== 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    return child;
  }

  it("a command under another lease kills the holder's process group and goes on", async () => {
    const orphan = await orphanedBuild();
    expect((await run('pgrep', ['-f', 'sleep 100131'])).code, 'the build runs').to.equal(0);
    const started = Date.now();
    const r = await manageWith({ STAGECOACH_LEASE: 'new-lease' }, home!, 'r1', 'stop');
    expect(r.code, r.stderr).to.equal(0);
    expect(Date.now() - started, 'no wait for the lock').to.be.below(5000);
    expect(r.stderr).to.contain('held by a lost stage (lease lost-lease');
    expect((await run('pgrep', ['-f', 'sleep 100131'])).code, 'the orphan is gone').to.equal(1);
    if (orphan.exitCode === null && orphan.signalCode === null) {
      await new Promise((resolve) => orphan.on('close', resolve));
    }
    expect(readFileSync(path.join(home!, '.manage.lock.owner'), 'utf8')).to.match(/^new-lease /);
  });

  it('a command under the same lease, or none, waits instead', async () => {
    const orphan = await orphanedBuild();
    const r = await run('./manage.sh', ['stop'], {
      cwd: path.join(home!, 'releases', 'r1'),
      env: { ...process.env, STAGECOACH_HOME: home!, STAGECOACH_LOCK_WAIT_S: '1' },
    });
    expect(r.code).to.equal(1);
    expect(lastLine(r.stderr)).to.contain('another stagecoach command is running on this target');
    expect((await run('pgrep', ['-f', 'sleep 100131'])).code, 'left alone').to.equal(0);
    process.kill(-orphan.pid!, 'SIGKILL');
  });
});

describe('scripts/target/manage.sh: resources', function () {
  let home: string | undefined;
  let pgPort: number;
  let apiPort: number;
  const pids = new Set<number>();
  const first: Record<string, { port: number; pid: number }> = {};

  const secret = (kind: string, file: string): string =>
    readFileSync(path.join(home!, 'state', 'resources', kind, file), 'utf8').trim();
  const psql = (sql: string): Promise<RunResult> =>
    run('psql', [secret('postgres', 'url'), '-XtAc', sql]);
  /** redis-cli with the recorded URL, as an app would connect. */
  const redisCli = (...args: string[]): Promise<RunResult> =>
    run('redis-cli', ['-u', secret('redis', 'url'), '--no-auth-warning', ...args]);

  before(async function () {
    requireTools(this, [
      [postgresBinaries(), 'postgres', 'postgresql'],
      [onPath('psql'), 'psql', 'postgresql-client'],
      [onPath('redis-server'), 'redis-server', 'redis-server'],
      [onPath('redis-cli'), 'redis-cli', 'redis-tools'],
      [onPath('setsid'), 'setsid', 'util-linux'],
      [process.getuid?.() !== 0 || onPath('runuser'), 'runuser', 'util-linux'],
    ]);
    // mkdtemp makes a 0700 directory: manage.sh must open it for the postgres user itself.
    home = await mkdtemp(path.join(os.tmpdir(), 'stagecoach-resources-'));
    pgPort = await freePort();
    apiPort = await freePort();
    await assembleRelease(home, 'r1', {
      scenario: 'notes-api',
      services: [
        {
          name: 'api',
          port: apiPort,
          start: 'node server.js',
          build: 'npm install --omit=dev --no-audit --no-fund',
        },
      ],
      resources: { postgres: pgPort, redis: '' },
    });
  });

  after(async function () {
    this.timeout(60_000);
    await cleanUp(home, pids);
  });

  it('setup finds the server binaries', async function () {
    const { tools } = resultOf(ok(await manage(home!, 'r1', 'setup')));
    expect(tools.postgres).to.match(/\/postgres$/);
    expect(tools['redis-server']).to.match(/\/redis-server$/);
  });

  it('start refuses to run before the resources have URLs', async function () {
    const r = await manage(home!, 'r1', 'start');
    expect(r.code).to.equal(1);
    expect(lastLine(r.stderr)).to.contain('run ./manage.sh start-resources first');
    expect(existsSync(path.join(home!, 'state', 'run', 'api.pid'))).to.equal(false);
  });

  it('start-resources initialises and starts postgres and redis', async function () {
    const { resources } = resultOf(ok(await manage(home!, 'r1', 'start-resources')));
    expect(resources.map((r: { kind: string }) => r.kind)).to.deep.equal(['postgres', 'redis']);
    for (const r of resources) {
      expect(r.started).to.equal(true);
      expect(alive(r.pid), `${r.kind} pid`).to.equal(true);
      pids.add(r.pid);
      first[r.kind] = { port: r.port, pid: r.pid };
    }
    expect(first.postgres.port).to.equal(pgPort);
    expect(first.redis.port).to.be.within(20000, 29999);
    const lock = path.join(home!, '.manage.lock');
    expect((await run('flock', ['-n', lock, 'true'])).code, 'servers hold the lock').to.equal(0);
    for (const kind of ['postgres', 'redis']) {
      for (const file of ['password', 'url']) {
        const mode = (await stat(path.join(home!, 'state', 'resources', kind, file))).mode & 0o777;
        expect(mode, `${kind}/${file} mode`).to.equal(0o600);
      }
      expect(secret(kind, 'password')).to.match(/^[A-Za-z0-9]{32}$/);
    }
    expect(secret('postgres', 'url')).to.equal(
      `postgresql://stagecoach:${secret('postgres', 'password')}@127.0.0.1:${pgPort}/app`,
    );
    expect(secret('redis', 'url')).to.equal(
      `redis://default:${secret('redis', 'password')}@127.0.0.1:${first.redis.port}/0`,
    );
  });

  it('the recorded URL and password connect', async function () {
    const db = ok(await psql('SELECT current_database(), current_user'));
    expect(db.stdout.trim()).to.equal('app|stagecoach');
    expect(ok(await redisCli('PING')).stdout.trim()).to.equal('PONG');
    const wrong = await run('redis-cli', [
      '-h',
      '127.0.0.1',
      '-p',
      String(first.redis.port),
      'PING',
    ]);
    expect(wrong.stdout + wrong.stderr).to.contain('NOAUTH');
  });

  it('start-resources again leaves them running (started:false)', async function () {
    const { resources } = resultOf(ok(await manage(home!, 'r1', 'start-resources')));
    for (const r of resources) {
      expect(r).to.deep.equal({
        kind: r.kind,
        port: first[r.kind].port,
        pid: first[r.kind].pid,
        started: false,
      });
    }
    const status = resultOf(ok(await manage(home!, 'r1', 'status')));
    expect(status.resources).to.deep.equal([
      { kind: 'postgres', port: pgPort, running: true },
      { kind: 'redis', port: first.redis.port, running: true },
    ]);
  });

  it('build commands see PORT, DATABASE_URL and REDIS_URL (e.g. for migrations)', async function () {
    await assembleRelease(home!, 'r-build', {
      scenario: 'notes-api',
      services: [
        {
          name: 'api',
          port: apiPort,
          start: 'node server.js',
          build: 'printf "%s\\n" "$PORT" "$DATABASE_URL" "$REDIS_URL" > build-env.txt',
        },
      ],
      resources: { postgres: pgPort, redis: '' },
    });
    ok(await manage(home!, 'r-build', 'build'));
    const seen = readFileSync(
      path.join(home!, 'releases', 'r-build', 'scenario', 'build-env.txt'),
      'utf8',
    );
    expect(seen.split('\n').slice(0, 3)).to.deep.equal([
      String(apiPort),
      secret('postgres', 'url'),
      secret('redis', 'url'),
    ]);
  });

  it('notes-api runs against them with DATABASE_URL and REDIS_URL', async function () {
    const modules = path.join(ROOT, 'node_modules');
    if (!existsSync(path.join(modules, 'pg')) || !existsSync(path.join(modules, 'ioredis'))) {
      this.skip();
    }
    // Stands in for `build` (npm install needs the network): the project's own pg and ioredis.
    await symlink(modules, path.join(home!, 'releases', 'r1', 'scenario', 'node_modules'));
    const { services } = resultOf(ok(await manage(home!, 'r1', 'start')));
    pids.add(services[0].pid);
    ok(await manage(home!, 'r1', 'health', '30'));
    const created = await httpRequest(apiPort, '/notes', 'POST', { text: 'first note' });
    expect(created.status, created.body).to.equal(201);
    expect(JSON.parse(created.body).created_total).to.equal(1);
    const list = JSON.parse((await httpRequest(apiPort, '/notes')).body);
    expect(list.notes.map((n: { text: string }) => n.text)).to.deep.equal(['first note']);
    expect(list.created_total).to.equal(1);
    expect(resultOf(ok(await manage(home!, 'r1', 'stop')))).to.deep.equal({ stopped: ['api'] });
  });

  it('stop --resources stops them; a restart keeps port, password and data', async function () {
    ok(await psql('CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)'));
    ok(await redisCli('SET', 'kept', 'yes'));
    const password = secret('postgres', 'password');
    ok(await manage(home!, 'r1', 'stop', '--resources'));
    expect(alive(first.postgres.pid), 'postgres').to.equal(false);
    expect(alive(first.redis.pid), 'redis').to.equal(false);
    const status = resultOf(ok(await manage(home!, 'r1', 'status')));
    expect(status.resources.map((r: { running: boolean }) => r.running)).to.deep.equal([
      false,
      false,
    ]);

    const { resources } = resultOf(ok(await manage(home!, 'r1', 'start-resources')));
    for (const r of resources) {
      pids.add(r.pid);
      expect(r).to.include({ port: first[r.kind].port, started: true });
    }
    expect(secret('postgres', 'password')).to.equal(password);
    expect(ok(await psql('SELECT x FROM kept')).stdout.trim()).to.equal('42');
    expect(ok(await redisCli('GET', 'kept')).stdout.trim()).to.equal('yes');
    ok(await manage(home!, 'r1', 'stop', '--resources'));
  });

  it('refuses a resource port held by another process (exit 3)', async function () {
    const blocker = net.createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      await writeFile(
        path.join(home!, 'releases', 'r1', 'config', 'resources', 'postgres.conf'),
        shellEnvFile({ RESOURCE_PORT: String(port) }),
      );
      const r = await manage(home!, 'r1', 'start-resources');
      expect(r.code, r.stderr).to.equal(3);
      expect(lastLine(r.stderr)).to.contain(`resource postgres: port ${port} is held`);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
