/**
 * The full pipeline over SSH to `deployed` behind Caddy with `tls: internal`: all three health
 * checks pass and HTTPS is verified against Caddy's internal root; stop removes the site.
 */
import { expect } from 'chai';
import { readFileSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { buildManifest } from '../factories.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { serve, type ApiClient } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { copyExample } from '../helpers/scenario-dir.js';
import { startRemoteHost, type RemoteHost } from '../helpers/remote-host.js';
import { requireBinary, SSHD_BINARY } from '../helpers/sshd.js';

/** GET over HTTPS with SNI and a pinned root; resolves the status or the TLS/network error. */
function get(port: number, domain: string, ca: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = https.get(
      { host: '127.0.0.1', port, servername: domain, headers: { host: domain }, path: '/', ca },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', (err: Error & { code?: string }) => resolve(err.code ?? err.message));
  });
}

describe('pipeline over SSH behind Caddy with HTTPS (tls: internal)', function () {
  this.timeout(180_000);
  let h: Harness;
  let api: ApiClient;
  let host: RemoteHost;
  let scenarios: string;
  /** The managed Caddy's own dir (as root outside the remote dir: stagecoach-caddy's). */
  let runDir: string | undefined;

  before(async function () {
    requireBinary(SSHD_BINARY, 'openssh-server', this);
    requireBinary('/usr/bin/caddy', 'caddy', this);
    scenarios = await copyExample('hello-web');
    host = await startRemoteHost();
    h = await createHarness('postgres', { SCENARIOS_DIR: scenarios });
    h.startWorkers();
    api = await serve(h.app);
  });

  after(async () => {
    await api?.close();
    await h?.close();
    await host?.close();
    await rm(scenarios ?? '/nonexistent', { recursive: true, force: true });
    if (runDir?.startsWith('/var/lib/stagecoach-caddy/')) {
      await rm(runDir, { recursive: true, force: true });
    }
  });

  it('reaches deployed with processes, ports and HTTPS verified; stop removes the site', async () => {
    const [webPort, httpPort, httpsPort] = [await freePort(), await freePort(), await freePort()];
    const domain = 'hello.stagecoach.test';
    const manifest = buildManifest({
      ports: { web: webPort },
      env: { GREETING: 'secure hello' },
      health: { timeout_s: 30 },
      edge: { domain, tls: 'internal', http_port: httpPort, https_port: httpsPort },
      target: host.target('app', { host_key: host.sshd.hostKeyFingerprint }) as never,
    });
    const created = await api.call('POST', '/api/v1/deployments', { manifest, execute: true });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    const id = created.body.deployment.id as string;
    const d = await api.waitFor(id, ['deployed', 'failed'], 150_000);
    expect(d.status, `${d.error_step}: ${d.error_message}`).to.equal('deployed');
    expect(d.deploy_result.checks).to.deep.equal({
      services_running: true,
      ports_accessible: true,
      https: true,
    });
    expect(d.deploy_result.edge.mode).to.equal('managed');
    // finding 4 (issue 7): the admin API is a unix socket; as root Caddy runs unprivileged
    const admin = String(d.deploy_result.edge.admin);
    expect(admin).to.match(/^unix\/\/.+\/admin\/admin\.sock$/);
    runDir = path.dirname(path.dirname(admin.slice('unix/'.length)));
    if (process.getuid?.() === 0) {
      expect(d.deploy_result.edge.caddy_user).to.equal('stagecoach-caddy');
      const pid = Number(readFileSync(path.join(host.edgeHome, 'caddy.pid'), 'utf8'));
      const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      expect(uid).to.equal(String(statSync(path.join(runDir, 'data')).uid));
      expect(uid).not.to.equal('0');
    }
    expect(d.deploy_result.edge.https.verified).to.equal(true);
    const https_ = d.deploy_result.steps.find((s: { id: string }) => s.id === 'https_check');
    expect(https_.ok).to.equal(true);
    const preflight = d.setup_result.preflight.checks.map((c: { id: string }) => c.id);
    expect(preflight).to.include.members([
      'os',
      'disk',
      'memory',
      'http_port',
      'https_port',
      'tools',
    ]);

    // as a user would: through Caddy, with SNI, trusting only Caddy's internal root
    const ca = readFileSync(d.deploy_result.edge.root_ca, 'utf8');
    expect(await get(httpsPort, domain, ca)).to.equal(200);
    // an unknown root is refused: the certificate really is verified
    const other = await get(httpsPort, domain, '');
    expect(other).to.be.a('string');

    await api.call('POST', `/api/v1/deployments/${id}/stop`, {});
    expect((await api.waitFor(id, ['stopped'])).status).to.equal('stopped');
    expect(await get(httpsPort, domain, ca)).to.not.equal(200);
  });
});
