/**
 * The edge on the target side (manage.sh edge-apply, and the edge parts of stop, status and
 * setup) with a real Caddy in managed mode: hand-assembled releases, hello-web services.
 */
import { expect } from 'chai';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  CADDY,
  edgeGet,
  killMentioning,
  requireCaddy,
  siteFile,
  siteFiles,
  statusOf,
  waitForStatus,
  type Answer,
} from '../helpers/edge-caddy.js';
import { freePort } from '../helpers/ports.js';
import {
  alive,
  assembleRelease,
  cleanUp,
  lastLine,
  manage,
  manageWith,
  ok,
  onPath,
  requireTools,
  resultOf,
  writeEdge,
  type RunResult,
} from '../helpers/target-release.js';

/** As root the managed Caddy's own dir (storage, admin socket) is outside the edge dir. */
const IS_ROOT = process.getuid?.() === 0;

describe('scripts/target/manage.sh: the edge (managed Caddy)', function () {
  let root: string | undefined;
  let edgeDir: string;
  const homes: Record<string, string> = {};
  const webPorts: Record<string, number> = {};
  let httpPort: number;
  let httpsPort: number;
  let caddyPid = 0;
  let ca = '';
  let runDir = '';
  const pids = new Set<number>();
  const domain = (name: string): string => `${name}.stagecoach.test`;

  /** config/edge.env of deployment `name`. */
  const edgeVars = (name: string, tls = 'internal'): Record<string, string> => ({
    EDGE_DOMAIN: domain(name),
    EDGE_TLS: tls,
    EDGE_EMAIL: '',
    EDGE_HTTP_PORT: String(httpPort),
    EDGE_HTTPS_PORT: tls === 'off' ? '' : String(httpsPort),
    EDGE_SERVICE: 'web',
  });
  /** Rewrites config/edge.env and the sites of deployment `name`'s release r1. */
  const setEdge = (name: string, vars: Record<string, string>): Promise<void> =>
    writeEdge(path.join(homes[name], 'releases', 'r1'), vars, [
      { name: 'web', port: webPorts[name], start: 'node server.js' },
    ]);
  const run = (name: string, ...args: string[]): Promise<RunResult> =>
    manageWith({ STAGECOACH_EDGE_HOME: edgeDir }, homes[name], 'r1', ...args);
  const getHttps = (name: string, port = httpsPort): Promise<Answer> =>
    edgeGet(port, domain(name), '/health', ca);
  // Right after a reload Caddy 2.6 may fail a handshake or two ("tlsv1 alert internal error")
  // while it loads the certificates of the new config: allow it a moment.
  const servesHttps = (name: string): Promise<number | string> =>
    waitForStatus(() => getHttps(name), 200, 5000);
  const caddyRunning = (): boolean => alive(caddyPid);

  /** A workdir with release r1 (hello-web on a free port, config/edge.env), started. */
  async function deployment(name: string, tls = 'internal'): Promise<void> {
    homes[name] = path.join(root!, `home-${name}`);
    webPorts[name] = await freePort();
    await assembleRelease(homes[name], 'r1', {
      scenario: 'hello-web',
      services: [{ name: 'web', port: webPorts[name], start: 'node server.js' }],
      edge: edgeVars(name, tls),
    });
    const { services } = resultOf(ok(await run(name, 'start')));
    pids.add(services[0].pid);
  }

  before(async function () {
    requireCaddy(this);
    requireTools(this, [
      [onPath('setsid'), 'setsid', 'util-linux'],
      [onPath('flock'), 'flock', 'util-linux'],
      [onPath('node'), 'node', 'nodejs'],
    ]);
    root = await mkdtemp(path.join(os.tmpdir(), 'stagecoach-edge-'));
    edgeDir = path.join(root, 'edge');
    httpPort = await freePort();
    httpsPort = await freePort();
    await deployment('a');
  });

  after(async function () {
    for (const name of Object.keys(homes)) {
      await run(name, 'stop').catch(() => undefined);
    }
    if (root) {
      killMentioning(root, ...(runDir ? [runDir] : []));
    }
    for (const home of Object.values(homes)) {
      await cleanUp(home, pids);
    }
    if (root) {
      await rm(root, { recursive: true, force: true });
    }
    if (IS_ROOT && runDir) {
      await rm(runDir, { recursive: true, force: true });
    }
  });

  it('setup requires caddy when the release has an edge', async function () {
    const { tools } = resultOf(ok(await run('a', 'setup')));
    expect(tools.caddy).to.equal(CADDY);
  });

  it('edge-apply writes the site, starts a managed Caddy and serves HTTPS', async function () {
    const r = resultOf(ok(await run('a', 'edge-apply')));
    expect(r).to.deep.include({
      mode: 'managed',
      changed: true,
      started: true,
      edge_dir: edgeDir,
      site: siteFile(edgeDir, domain('a')),
      http_port: httpPort,
      https_port: httpsPort,
      health_path: '/health',
    });
    // Caddy's own dir: the edge dir, or as root one of stagecoach-caddy's (it cannot reach /root)
    runDir = IS_ROOT ? path.dirname(path.dirname(String(r.admin).slice('unix/'.length))) : edgeDir;
    if (IS_ROOT) {
      expect(runDir).to.match(/^\/var\/lib\/stagecoach-caddy\/[0-9a-f]{16}$/);
    }
    expect(r.root_ca).to.equal(path.join(runDir, 'data/pki/authorities/local/root.crt'));
    const socket = path.join(runDir, 'admin', 'admin.sock');
    expect(r.admin).to.equal(`unix/${socket}`);
    expect(statSync(socket).isSocket()).to.equal(true);
    expect(statSync(path.dirname(socket)).mode & 0o777).to.equal(0o700);
    expect(readFileSync(r.site, 'utf8')).to.equal(
      `https://${domain('a')}:${httpsPort} {\n\ttls internal\n\treverse_proxy 127.0.0.1:${webPorts.a}\n}\n`,
    );
    const caddyfile = readFileSync(path.join(edgeDir, 'Caddyfile'), 'utf8');
    expect(caddyfile).to.contain(`admin unix/${socket}\n`);
    expect(caddyfile).to.contain(`https_port ${httpsPort}\n`);
    expect(caddyfile).to.contain(`storage file_system ${runDir}/data\n`);
    expect(caddyfile).to.contain(`import ${edgeDir}/sites/*.caddy`);
    caddyPid = Number(readFileSync(path.join(edgeDir, 'caddy.pid'), 'utf8'));
    expect(caddyRunning()).to.equal(true);
    ca = readFileSync(r.root_ca, 'utf8');
    expect(await waitForStatus(() => getHttps('a'), 200)).to.equal(200);
    const status = resultOf(ok(await run('a', 'status')));
    expect(status.edge).to.deep.equal({ mode: 'managed', running: true, site: true });
  });

  it('edge-apply without a change leaves Caddy alone', async function () {
    const r = resultOf(ok(await run('a', 'edge-apply')));
    expect(r).to.include({ changed: false, started: false });
    expect(Number(readFileSync(path.join(edgeDir, 'caddy.pid'), 'utf8'))).to.equal(caddyPid);
    expect(caddyRunning()).to.equal(true);
  });

  it('a second deployment (another workdir and domain) is served by the same Caddy', async function () {
    await deployment('b');
    const r = resultOf(ok(await run('b', 'edge-apply')));
    expect(r).to.include({ changed: true, started: false, edge_dir: edgeDir });
    expect(Number(readFileSync(path.join(edgeDir, 'caddy.pid'), 'utf8'))).to.equal(caddyPid);
    expect(await waitForStatus(() => getHttps('b'), 200)).to.equal(200);
    expect(await servesHttps('a')).to.equal(200);
  });

  it('a domain Caddy rejects fails naming it, and the previous config still serves', async function () {
    const siteBefore = readFileSync(siteFile(edgeDir, domain('a')), 'utf8');
    await setEdge('a', { ...edgeVars('a'), EDGE_DOMAIN: 'a,b.test' });
    try {
      const r = await run('a', 'edge-apply');
      expect(r.code, r.stdout).to.equal(1);
      expect(lastLine(r.stderr)).to.contain('caddy validate for a,b.test failed');
      expect(lastLine(r.stderr)).to.contain('Site addresses cannot contain a comma');
      expect(siteFiles(edgeDir, 'a,b.test')).to.deep.equal([]);
    } finally {
      await setEdge('a', edgeVars('a'));
    }
    const siteAfter = readFileSync(siteFile(edgeDir, domain('a')), 'utf8');
    expect(siteAfter).to.equal(siteBefore);
    expect(caddyRunning()).to.equal(true);
    expect(await servesHttps('a')).to.equal(200);
    expect(await servesHttps('b')).to.equal(200);
  });

  it('a reload Caddy refuses (HTTPS port taken) is rolled back', async function () {
    const blocker = net.createServer();
    const taken = await freePort();
    await new Promise<void>((resolve) => blocker.listen(taken, resolve));
    const caddyfileBefore = readFileSync(path.join(edgeDir, 'Caddyfile'), 'utf8');
    await setEdge('a', { ...edgeVars('a'), EDGE_HTTPS_PORT: String(taken) });
    try {
      const r = await run('a', 'edge-apply');
      expect(r.code, r.stdout).to.equal(1);
      expect(lastLine(r.stderr)).to.contain(`reloading Caddy for ${domain('a')} failed`);
      expect(lastLine(r.stderr)).to.contain('address already in use');
    } finally {
      await setEdge('a', edgeVars('a'));
      await new Promise((resolve) => blocker.close(resolve));
    }
    expect(readFileSync(path.join(edgeDir, 'Caddyfile'), 'utf8')).to.equal(caddyfileBefore);
    expect(existsSync(path.join(edgeDir, 'Caddyfile.prev'))).to.equal(true);
    expect(await servesHttps('a')).to.equal(200);
  });

  it('a second deployment with the same domain can neither take the site nor stop it', async function () {
    // the API refuses this at create (409 domain_in_use); here two targets share one edge anyway
    await deployment('twin');
    await setEdge('twin', edgeVars('a'));
    const r = await run('twin', 'edge-apply');
    expect(r.code, r.stdout).to.equal(1);
    expect(siteFiles(edgeDir, domain('a'))).to.have.length(1);
    expect(await servesHttps('a')).to.equal(200);
    const stop = resultOf(ok(await run('twin', 'stop')));
    expect(stop.edge).to.deep.equal({ site_removed: false, caddy_stopped: false });
    expect(siteFiles(edgeDir, domain('a'))).to.have.length(1);
    expect(await servesHttps('a')).to.equal(200);
  });

  it('stop removes the site; the last stop stops Caddy', async function () {
    const a = resultOf(ok(await run('a', 'stop')));
    expect(a).to.deep.equal({
      stopped: ['web'],
      edge: { site_removed: true, caddy_stopped: false },
    });
    expect(siteFiles(edgeDir, domain('a'))).to.deep.equal([]);
    expect(await servesHttps('b')).to.equal(200);
    expect(statusOf(await getHttps('a'))).not.to.equal(200);
    expect(caddyRunning()).to.equal(true);
    // Without STAGECOACH_EDGE_HOME (as a plain `manage.sh stop`): the recorded edge dir.
    const b = resultOf(ok(await manage(homes.b, 'r1', 'stop')));
    expect(b.edge).to.deep.equal({ site_removed: true, caddy_stopped: true });
    expect(caddyRunning()).to.equal(false);
    const status = resultOf(ok(await run('b', 'status')));
    expect(status.edge).to.deep.equal({ mode: 'managed', running: false, site: false });
  });

  it('tls off serves plain HTTP on http_port', async function () {
    await deployment('c', 'off');
    const r = resultOf(ok(await run('c', 'edge-apply')));
    expect(r).to.include({ changed: true, started: true, https_port: null, http_port: httpPort });
    expect(readFileSync(r.site, 'utf8')).to.equal(
      `http://${domain('c')}:${httpPort} {\n\treverse_proxy 127.0.0.1:${webPorts.c}\n}\n`,
    );
    caddyPid = Number(readFileSync(path.join(edgeDir, 'caddy.pid'), 'utf8'));
    const get = (): Promise<Answer> => edgeGet(httpPort, domain('c'), '/health');
    expect(await waitForStatus(get, 200)).to.equal(200);
    expect(resultOf(ok(await run('c', 'stop'))).edge).to.deep.equal({
      site_removed: true,
      caddy_stopped: true,
    });
    expect(caddyRunning()).to.equal(false);
  });

  it('edge-apply without the site file for the live port exits 2 and changes nothing', async function () {
    await deployment('d');
    await rm(path.join(homes.d, 'releases', 'r1', 'config', 'edge'), { recursive: true });
    const r = await run('d', 'edge-apply');
    expect(r.code, r.stdout).to.equal(2);
    expect(lastLine(r.stderr)).to.contain(`config/edge/${webPorts.d}.caddy`);
    expect(lastLine(r.stderr)).to.contain('rebuild the bundle');
    expect(siteFiles(edgeDir, domain('d'))).to.deep.equal([]);
    ok(await run('d', 'stop'));
  });

  it('edge-apply refuses a release without config/edge.env', async function () {
    homes.plain = path.join(root!, 'home-plain');
    await assembleRelease(homes.plain, 'r1', {
      scenario: 'hello-web',
      services: [{ name: 'web', port: await freePort(), start: 'node server.js' }],
    });
    const r = await run('plain', 'edge-apply');
    expect(r.code).to.equal(2);
    expect(lastLine(r.stderr)).to.contain('no config/edge.env');
  });
});
