/**
 * Supervised services end to end: a deployed service killed with SIGKILL is restarted by its
 * supervisor on the target, and inspect (API → worker → manage.sh status) shows the restart.
 */
import { expect } from 'chai';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { buildManifest } from '../factories.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { serve, type ApiClient } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { copyExample } from '../helpers/scenario-dir.js';
import { childrenOf, httpStatusOf, pollUntil } from '../helpers/supervision.js';

describe('supervised services through the API and the workers', function () {
  this.timeout(120_000);
  let h: Harness;
  let api: ApiClient;
  let scenarios: string;
  let id: string | undefined;

  before(async () => {
    scenarios = await copyExample('hello-web');
    h = await createHarness('redis', { SCENARIOS_DIR: scenarios });
    h.startWorkers();
    api = await serve(h.app);
  });

  after(async () => {
    if (id) {
      await api.call('POST', `/api/v1/deployments/${id}/stop`, {});
      await api.waitFor(id, ['stopped', 'failed'], 20_000).catch(() => undefined);
    }
    await api?.close();
    await h?.close();
    await rm(scenarios, { recursive: true, force: true });
  });

  /** The pid in the local target's state/run/web.pid: the web service's supervisor. */
  async function supervisorPid(): Promise<number> {
    const root = path.join(h.dataDir, 'targets');
    const files = (await readdir(root, { recursive: true })) as string[];
    const file = files.find((f) => f.endsWith(path.join('state', 'run', 'web.pid')));
    expect(file, 'web.pid under the target').to.be.a('string');
    return Number((await readFile(path.join(root, file!), 'utf8')).trim());
  }

  /** The inspect result's first service (inspect run by the worker, awaited by the API). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async function inspectWeb(): Promise<{ ok: boolean; web: any }> {
    const res = await api.call('POST', `/api/v1/deployments/${id}/inspect?wait=30`);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return { ok: res.body.result.ok, web: res.body.result.services[0] };
  }

  it('kill -9 of the deployed service: it answers again and inspect shows the restart', async () => {
    const port = await freePort();
    const manifest = buildManifest({
      target: { type: 'local', workdir: 'targets/supervised' },
      ports: { web: port },
    });
    const res = await api.call('POST', '/api/v1/deployments', { manifest, execute: true });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    id = res.body.deployment.id as string;
    const d = await api.waitFor(id, ['deployed', 'failed']);
    expect(d.status, JSON.stringify(d.deploy_result ?? d.error_message)).to.equal('deployed');

    const before = await inspectWeb();
    expect(before.ok).to.equal(true);
    expect(before.web).to.include({
      running: true,
      state: 'running',
      restarts: 0,
      last_exit: null,
    });

    const supervisor = await supervisorPid();
    const [service] = childrenOf(supervisor);
    expect(service, 'the service process under its supervisor').to.be.a('number');
    process.kill(service, 'SIGKILL');

    const after = await pollUntil(
      'the service to answer again with a restart in inspect',
      20_000,
      async () => {
        const r = await inspectWeb();
        return r.web.restarts >= 1 && r.web.running && (await httpStatusOf(port)) === 200
          ? r
          : undefined;
      },
      200,
    );
    expect(after.ok).to.equal(true);
    expect(after.web).to.include({ state: 'running', last_exit: 137, pid: supervisor });
    expect(after.web.last_exit_at).to.match(/Z$/);
    expect((await api.call('GET', `/api/v1/deployments/${id}`)).body.deployment.status).to.equal(
      'deployed',
    );
  });
});
