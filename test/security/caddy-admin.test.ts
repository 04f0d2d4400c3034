/**
 * Finding 4 of the security review (issue 7): the managed Caddy's admin API listened on TCP
 * without auth and Caddy ran as root, so any local user could add a `file_server` rooted at `/`
 * and read /etc/shadow. Now the admin API is a unix socket in a 0700 directory, every reload goes
 * through it, and as root Caddy runs as `stagecoach-caddy` with CAP_NET_BIND_SERVICE only.
 * A real managed Caddy throughout (manage.sh edge-apply, hand-assembled releases).
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  adminRequest,
  CADDY_USER,
  edgeGet,
  freePrivilegedPort,
  killMentioning,
  procStatus,
  requireCaddy,
  tcpListenPorts,
  uidOf,
  waitForStatus,
  type AdminAddress,
} from '../helpers/edge-caddy.js';
import { freePort } from '../helpers/ports.js';
import {
  alive,
  assembleRelease,
  cleanUp,
  manageWith,
  ok,
  onPath,
  requireTools,
  resultOf,
  run,
  type RunResult,
} from '../helpers/target-release.js';

const IS_ROOT = process.getuid?.() === 0;
/** The local user who attacks (and, in the last test, deploys without root). */
const OTHER = 'nobody';
/** Only CAP_NET_BIND_SERVICE (bit 10). */
const NET_BIND_ONLY = '0000000000000400';

/** What edge-apply reports (the fields these tests read). */
interface Applied {
  admin: string | null;
  root_ca: string;
  caddy_user?: string | null;
  changed: boolean;
  started: boolean;
}

/** The last line of curl's output (`-w '\n%{http_code}'`): the HTTP status, or '' on failure. */
const httpCode = (r: { stdout: string }): string => r.stdout.trimEnd().split('\n').pop() ?? '';

/** True when something accepts TCP connections on 127.0.0.1:port. */
function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** Waits until `check` holds (or the timeout passes); returns its last value. */
async function until(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!(await check()) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

describe('security: the managed Caddy (admin API on a unix socket, unprivileged user)', function () {
  this.timeout(60_000);
  let root: string | undefined;
  let edgeDir: string;
  let httpPort: number;
  let httpsPort: number;
  const homes: Record<string, { home: string; edge: string; as?: string }> = {};
  /** Caddy's own dirs reported by edge-apply (outside the test dir when root): removed after. */
  const runDirs = new Set<string>();
  const pids = new Set<number>();
  const domain = (name: string): string => `${name}.stagecoach.test`;

  /** manage.sh in deployment `name`'s release, as its user. */
  function manage(name: string, ...args: string[]): Promise<RunResult> {
    const { home, edge, as } = homes[name];
    if (!as) {
      return manageWith({ STAGECOACH_EDGE_HOME: edge }, home, 'r1', ...args);
    }
    const env = [`PATH=${process.env.PATH}`, `STAGECOACH_HOME=${home}`];
    return run(
      'runuser',
      ['-u', as, '--', 'env', ...env, `STAGECOACH_EDGE_HOME=${edge}`, './manage.sh', ...args],
      {
        cwd: path.join(home, 'releases', 'r1'),
      },
    );
  }

  /** edge-apply's result; remembers Caddy's dir for clean-up. */
  async function apply(name: string): Promise<Applied> {
    const r: Applied = resultOf(ok(await manage(name, 'edge-apply')));
    if (typeof r.admin === 'string' && r.admin.startsWith('unix/')) {
      runDirs.add(path.dirname(path.dirname(r.admin.slice('unix/'.length))));
    }
    return r;
  }

  /** A workdir with release r1 (hello-web, config/edge.env on `edge`). */
  async function deployment(
    name: string,
    opts: { edge?: string; as?: string; ports?: [number, number]; start?: boolean } = {},
  ): Promise<void> {
    const home = path.join(root!, `home-${name}`);
    homes[name] = { home, edge: opts.edge ?? edgeDir, as: opts.as };
    const [http, https] = opts.ports ?? [httpPort, httpsPort];
    await assembleRelease(home, 'r1', {
      scenario: 'hello-web',
      services: [{ name: 'web', port: await freePort(), start: 'node server.js' }],
      edge: {
        EDGE_DOMAIN: domain(name),
        EDGE_TLS: 'internal',
        EDGE_EMAIL: '',
        EDGE_HTTP_PORT: String(http),
        EDGE_HTTPS_PORT: String(https),
        EDGE_SERVICE: 'web',
      },
    });
    if (opts.as) {
      spawnSync('chown', ['-R', opts.as, home]);
    }
    if (opts.start !== false) {
      const { services } = resultOf(ok(await manage(name, 'start')));
      pids.add(services[0].pid);
    }
  }

  const caddyPidOf = (edge: string): number =>
    Number(readFileSync(path.join(edge, 'caddy.pid'), 'utf8'));
  const socketOf = (r: Applied): string => String(r.admin).slice('unix/'.length);

  before(async function () {
    requireCaddy(this);
    requireTools(this, [
      [onPath('setsid'), 'setsid', 'util-linux'],
      [onPath('flock'), 'flock', 'util-linux'],
      [onPath('node'), 'node', 'nodejs'],
      [onPath('ss'), 'ss', 'iproute2'],
      [onPath('curl'), 'curl', 'curl'],
    ]);
    root = await mkdtemp(path.join(os.tmpdir(), 'stagecoach-caddy-admin-'));
    // the non-root deployer of the last test must reach its workdir
    spawnSync('chmod', ['0711', root]);
    edgeDir = path.join(root, 'edge');
    httpPort = await freePort();
    // as root, a port below 1024: Caddy's user binds it with CAP_NET_BIND_SERVICE alone
    httpsPort = IS_ROOT ? await freePrivilegedPort() : await freePort();
    await deployment('a');
  });

  after(async function () {
    for (const name of Object.keys(homes)) {
      await manage(name, 'stop').catch(() => undefined);
    }
    if (root) {
      killMentioning(root, ...runDirs);
      for (const { home } of Object.values(homes)) {
        await cleanUp(home, pids);
      }
      await rm(root, { recursive: true, force: true });
    }
    for (const dir of runDirs) {
      if (dir.startsWith('/var/lib/stagecoach-caddy/')) {
        await rm(dir, { recursive: true, force: true });
      }
    }
  });

  it('edge-apply puts the admin API on a unix socket: Caddy listens on TCP for the sites only', async function () {
    const r = await apply('a');
    expect(r.admin).to.match(/^unix\/\/.+\/admin\.sock$/);
    expect(statSync(socketOf(r)).isSocket()).to.equal(true);
    const caddyfile = readFileSync(path.join(edgeDir, 'Caddyfile'), 'utf8');
    expect(caddyfile).to.contain(`\tadmin ${r.admin}\n`);
    expect(caddyfile).not.to.match(/admin 127\.0\.0\.1/);
    expect(existsSync(path.join(edgeDir, 'admin.port'))).to.equal(false);
    const pid = caddyPidOf(edgeDir);
    expect(tcpListenPorts(pid)).to.deep.equal([httpPort, httpsPort].sort((x, y) => x - y));
    const ca = readFileSync(r.root_ca, 'utf8');
    const get = () => edgeGet(httpsPort, domain('a'), '/health', ca);
    expect(await waitForStatus(get, 200)).to.equal(200);
  });

  it("the admin socket answers stagecoach's user and no other local user", async function () {
    const r = await apply('a');
    const socket = socketOf(r);
    const own = adminRequest({ socket }, 'GET', '/config/');
    expect(httpCode(own), own.stderr).to.equal('200');
    expect(own.stdout).to.contain('"apps"');
    const dir = statSync(path.dirname(socket));
    expect(dir.mode & 0o777).to.equal(0o700);
    expect(dir.uid).to.equal(IS_ROOT ? uidOf(CADDY_USER) : process.getuid?.());
    if (!IS_ROOT) {
      this.skip();
    }
    const other = adminRequest({ socket }, 'GET', '/config/', { as: OTHER });
    expect(other.code, other.stdout).not.to.equal(0);
    expect(other.stdout).not.to.contain('"apps"');
  });

  it('a local user cannot make Caddy serve /etc/shadow through any admin address', async function () {
    if (!IS_ROOT) {
      this.skip();
    }
    const r = await apply('a');
    const pid = caddyPidOf(edgeDir);
    const leakPort = await freePort();
    const pwn = {
      listen: [`127.0.0.1:${leakPort}`],
      routes: [{ handle: [{ handler: 'file_server', root: '/' }] }],
    };
    // every address an admin API could listen on: the socket and each TCP port Caddy holds
    const addresses: AdminAddress[] = [
      { socket: socketOf(r) },
      ...tcpListenPorts(pid).map((port) => ({ port })),
    ];
    const leaked: string[] = [];
    for (const address of addresses) {
      adminRequest(address, 'POST', '/config/apps/http/servers/pwn', { body: pwn, as: OTHER });
      const a = await edgeGet(leakPort, '127.0.0.1', '/etc/shadow');
      if ('status' in a && a.status === 200 && a.body.startsWith('root:')) {
        leaked.push(JSON.stringify(address)); // never the file's content
      }
      // whatever got in through this address goes out the same way (as root)
      adminRequest(address, 'DELETE', '/config/apps/http/servers/pwn');
    }
    expect(leaked, '/etc/shadow was served after a request as nobody to').to.deep.equal([]);
  });

  it('as root, Caddy runs as stagecoach-caddy with CAP_NET_BIND_SERVICE only, on a port below 1024', async function () {
    if (!IS_ROOT) {
      this.skip();
    }
    const r = await apply('a');
    const uid = uidOf(CADDY_USER);
    expect(uid, `user ${CADDY_USER}`).to.be.a('number');
    expect(r.caddy_user).to.equal(CADDY_USER);
    const pid = caddyPidOf(edgeDir);
    expect(procStatus(pid, 'Uid')).to.deep.equal(Array(4).fill(String(uid)));
    expect(procStatus(pid, 'CapEff')).to.deep.equal([NET_BIND_ONLY]);
    expect(procStatus(pid, 'CapBnd')).to.deep.equal([NET_BIND_ONLY]);
    expect(httpsPort).to.be.below(1024);
    const ca = readFileSync(r.root_ca, 'utf8');
    const get = () => edgeGet(httpsPort, domain('a'), '/health', ca);
    expect(await waitForStatus(get, 200)).to.equal(200);
    // its storage is its own, and root's files stay out of its reach even through its own API
    const runDir = path.dirname(path.dirname(socketOf(r)));
    expect(statSync(path.join(runDir, 'data')).uid).to.equal(uid);
    const leakPort = await freePort();
    const pwn = {
      listen: [`127.0.0.1:${leakPort}`],
      routes: [{ handle: [{ handler: 'file_server', root: '/' }] }],
    };
    const socket = { socket: socketOf(r) };
    const put = adminRequest(socket, 'POST', '/config/apps/http/servers/pwn', { body: pwn });
    try {
      expect(httpCode(put), put.stdout).to.equal('200');
      const a = await edgeGet(leakPort, '127.0.0.1', '/etc/shadow');
      expect('status' in a ? a.status : a.error).to.equal(403);
    } finally {
      adminRequest(socket, 'DELETE', '/config/apps/http/servers/pwn');
    }
  });

  it('a change reloads Caddy through the socket; the last stop stops it', async function () {
    const pid = caddyPidOf(edgeDir);
    await deployment('b');
    const r = await apply('b');
    expect(r).to.include({ changed: true, started: false });
    expect(caddyPidOf(edgeDir)).to.equal(pid);
    const ca = readFileSync(r.root_ca, 'utf8');
    const get = () => edgeGet(httpsPort, domain('b'), '/health', ca);
    expect(await waitForStatus(get, 200)).to.equal(200);
    expect(tcpListenPorts(pid)).to.deep.equal([httpPort, httpsPort].sort((x, y) => x - y));
    expect(resultOf(ok(await manage('a', 'stop'))).edge).to.deep.include({ caddy_stopped: false });
    expect(resultOf(ok(await manage('b', 'stop'))).edge).to.deep.include({ caddy_stopped: true });
    expect(await until(() => !alive(pid))).to.equal(true);
    expect(existsSync(socketOf(r))).to.equal(false);
  });

  it('where setpriv cannot drop root, Caddy runs as root with a warning, admin API still on the socket', async function () {
    if (!IS_ROOT) {
      this.skip();
    }
    const edge = path.join(root!, 'edge-no-setpriv');
    // a setpriv that fails the way one without ambient capabilities does
    const shims = path.join(root!, 'shims');
    await mkdir(shims);
    const fake = '#!/bin/sh\necho "setpriv: ambient capabilities are not supported" >&2\nexit 1\n';
    await writeFile(path.join(shims, 'setpriv'), fake, { mode: 0o755 });
    const ports: [number, number] = [await freePort(), await freePort()];
    await deployment('f', { edge, ports, start: false });
    const env = { STAGECOACH_EDGE_HOME: edge, PATH: `${shims}:${process.env.PATH}` };
    const out = ok(await manageWith(env, homes.f.home, 'r1', 'edge-apply'));
    const r: Applied = resultOf(out);
    runDirs.add(path.dirname(path.dirname(socketOf(r))));
    expect(out.stdout).to.contain(
      `edge: warning: cannot run Caddy as the unprivileged user ${CADDY_USER}`,
    );
    expect(r.caddy_user).to.equal('root');
    const pid = caddyPidOf(edge);
    expect(procStatus(pid, 'Uid')[0]).to.equal('0');
    expect(tcpListenPorts(pid)).to.deep.equal([...ports].sort((x, y) => x - y));
    const other = adminRequest({ socket: socketOf(r) }, 'GET', '/config/', { as: OTHER });
    expect(other.code).not.to.equal(0);
    const stop = resultOf(ok(await manageWith(env, homes.f.home, 'r1', 'stop')));
    expect(stop.edge).to.deep.equal({ site_removed: true, caddy_stopped: true });
  });

  describe('a Caddy an older stagecoach started (as the caller, admin API on TCP)', function () {
    let old: string;
    let adminPort: number;
    let legacyPid: number;
    let oldCa: string;
    let ports: [number, number];
    const siteFile = (name: string): string => path.join(old, 'sites', `${domain(name)}.caddy`);

    /** The edge dir, Caddyfile and process as the previous version left them: sites d and e. */
    before(async function () {
      old = path.join(root!, 'edge-old');
      [adminPort, ...ports] = [await freePort(), await freePort(), await freePort()];
      await mkdir(path.join(old, 'sites'), { recursive: true });
      await writeFile(path.join(old, 'admin.port'), `${adminPort}\n`);
      await writeFile(
        path.join(old, 'Caddyfile'),
        `{\n\tadmin 127.0.0.1:${adminPort}\n\thttp_port ${ports[0]}\n\thttps_port ${ports[1]}\n` +
          `\tstorage file_system ${old}/data\n\tskip_install_trust\n}\n\nimport ${old}/sites/*.caddy\n`,
      );
      await deployment('d', { edge: old, ports });
      for (const name of ['d', 'e']) {
        await writeFile(
          siteFile(name),
          `https://${domain(name)}:${ports[1]} {\n\ttls internal\n\treverse_proxy 127.0.0.1:1\n}\n`,
        );
      }
      const log = openSync(path.join(old, 'caddy.log'), 'a');
      const args = ['run', '--config', `${old}/Caddyfile`, '--adapter', 'caddyfile'];
      const legacy = spawn('caddy', args, {
        cwd: old,
        env: { ...process.env, XDG_DATA_HOME: `${old}/data`, XDG_CONFIG_HOME: `${old}/config` },
        detached: true,
        stdio: ['ignore', log, log],
      });
      legacy.unref();
      legacyPid = legacy.pid!;
      await writeFile(path.join(old, 'caddy.pid'), `${legacyPid}\n`);
      oldCa = path.join(old, 'data/pki/authorities/local/root.crt');
      expect(await until(() => existsSync(oldCa) && tcpOpen(adminPort))).to.equal(true);
    });

    it('status sees it and stop reloads it through its TCP port', async function () {
      const status = resultOf(ok(await manage('d', 'status')));
      expect(status.edge).to.deep.equal({ mode: 'managed', running: true, site: true });
      const stop = resultOf(ok(await manage('d', 'stop')));
      expect(stop.edge).to.deep.equal({ site_removed: true, caddy_stopped: false });
      expect(alive(legacyPid)).to.equal(true);
      const config = adminRequest({ port: adminPort }, 'GET', '/config/');
      expect(httpCode(config)).to.equal('200');
      expect(config.stdout).to.contain(domain('e')).and.not.to.contain(domain('d'));
    });

    it('the next edge-apply replaces it, keeping its local CA', async function () {
      ok(await manage('d', 'start'));
      const r = await apply('d');
      expect(r.started).to.equal(true);
      expect(await until(() => !alive(legacyPid))).to.equal(true);
      const pid = caddyPidOf(old);
      expect(pid).not.to.equal(legacyPid);
      expect(await tcpOpen(adminPort)).to.equal(false);
      expect(existsSync(path.join(old, 'admin.port'))).to.equal(false);
      expect(tcpListenPorts(pid)).to.deep.equal([...ports].sort((x, y) => x - y));
      if (IS_ROOT) {
        expect(procStatus(pid, 'Uid')[0]).to.equal(String(uidOf(CADDY_USER)));
      }
      // the same local CA: browsers and workers that trusted it keep trusting the edge
      expect(readFileSync(r.root_ca, 'utf8')).to.equal(readFileSync(oldCa, 'utf8'));
      const get = () => edgeGet(ports[1], domain('d'), '/health', readFileSync(oldCa, 'utf8'));
      expect(await waitForStatus(get, 200)).to.equal(200);
      await rm(siteFile('e'));
      const stop = resultOf(ok(await manage('d', 'stop')));
      expect(stop.edge).to.deep.equal({ site_removed: true, caddy_stopped: true });
      expect(await until(() => !alive(pid))).to.equal(true);
    });
  });

  it('a deployer without root runs Caddy as itself, its socket in its own 0700 dir', async function () {
    if (!IS_ROOT) {
      this.skip(); // needs runuser to act as another user
    }
    const edge = path.join(root!, 'edge-nobody');
    await mkdir(edge);
    spawnSync('chown', [OTHER, edge]);
    const ports: [number, number] = [await freePort(), await freePort()];
    await deployment('n', { edge, as: OTHER, ports, start: false });
    const r = await apply('n');
    expect(r.caddy_user).to.equal(OTHER);
    const uid = uidOf(OTHER)!;
    const pid = caddyPidOf(edge);
    expect(procStatus(pid, 'Uid')).to.deep.equal(Array(4).fill(String(uid)));
    expect(socketOf(r)).to.equal(path.join(edge, 'admin', 'admin.sock'));
    const dir = statSync(path.dirname(socketOf(r)));
    expect([dir.uid, dir.mode & 0o777]).to.deep.equal([uid, 0o700]);
    expect(tcpListenPorts(pid)).to.deep.equal([...ports].sort((x, y) => x - y));
    expect(
      httpCode(adminRequest({ socket: socketOf(r) }, 'GET', '/config/', { as: OTHER })),
    ).to.equal('200');
    const daemon = adminRequest({ socket: socketOf(r) }, 'GET', '/config/', { as: 'daemon' });
    expect(daemon.code).not.to.equal(0);
    expect(resultOf(ok(await manage('n', 'stop'))).edge).to.deep.include({ caddy_stopped: true });
    expect(await until(() => !alive(pid))).to.equal(true);
  });
});
