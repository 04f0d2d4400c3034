/**
 * Zero downtime behind the edge: a client loops requests through a real managed Caddy while the
 * deployment is re-deployed with a new version; not one request fails, and the answers change
 * from the old version to the new one. The new release runs on the spare port; the old drained.
 */
import { expect } from 'chai';
import path from 'node:path';
import { buildManifest } from '../factories.js';
import { edgeGet, requireCaddy, statusOf, waitForStatus } from '../helpers/edge-caddy.js';
import { useDeploySuite } from '../helpers/deploy-suite.js';
import { freePort } from '../helpers/ports.js';
import { editFile } from '../helpers/scenario-dir.js';

describe('zero-downtime re-deploy behind managed Caddy', function () {
  this.timeout(180_000);
  before(function () {
    requireCaddy(this);
  });
  const suite = useDeploySuite();

  it('serves every request while the new version replaces the old one', async () => {
    const server = path.join(suite.scenarios, 'examples/hello-web/server.js');
    await editFile(server, 'from hello-web', 'from version 1');
    const [web, spare, httpPort] = [await freePort(), await freePort(), await freePort()];
    const domain = 'zero.stagecoach.test';
    const manifest = buildManifest({
      target: { type: 'local', workdir: 'targets/zero' },
      ports: { web },
      health: { timeout_s: 10 },
      edge: { domain, tls: 'off', http_port: httpPort, spare_port: spare, drain_s: 2 },
    });
    const created = await suite.api.call('POST', '/api/v1/deployments', {
      manifest,
      execute: true,
    });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    const id = created.body.deployment.id as string;
    suite.track(id);
    const first = await suite.api.waitFor(id, ['deployed', 'failed'], 120_000);
    expect(first.status, `${first.error_step}: ${first.error_message}`).to.equal('deployed');
    const get = () => edgeGet(httpPort, domain, '/');
    expect(await waitForStatus(get, 200)).to.equal(200);

    await editFile(server, 'from version 1', 'from version 2');
    const res = await suite.api.call('POST', `/api/v1/deployments/${id}/redeploy`, {
      force_rebuild: true,
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);

    // one client, one request after another (fresh connection each), until the run ends
    const seen: string[] = [];
    const failures: string[] = [];
    let done = false;
    const ended = suite.api
      .waitFor(id, ['deployed', 'failed'], 120_000)
      .finally(() => (done = true));
    const loop = (async () => {
      for (let extra = 0; !done || extra < 20; extra += done ? 1 : 0) {
        const answer = await get();
        if (statusOf(answer) !== 200) {
          failures.push(String(statusOf(answer)));
        } else if ('body' in answer && seen.at(-1) !== answer.body) {
          seen.push(answer.body);
        }
      }
    })();
    const d = await ended;
    await loop;
    expect(d.status, `${d.error_step}: ${d.error_message}`).to.equal('deployed');
    expect(failures, 'failed requests through Caddy').to.deep.equal([]);
    expect(seen).to.deep.equal(['hello from version 1\n', 'hello from version 2\n']);
    // the new release runs on the spare port; the old instance drained
    const service = (
      d.deploy_result.services as { record: string; port: number; pid: number }[]
    )[0];
    expect(service).to.include({ record: 'web.b', port: spare });
    expect(d.deploy_result.drained).to.deep.equal(['web']);
    expect(d.deploy_result.unchanged).to.equal(false);

    // the same release again: left running (same instance, nothing drained), Caddy still routes
    const again = await suite.api.call('POST', `/api/v1/deployments/${id}/redeploy`, {});
    expect(again.status, JSON.stringify(again.body)).to.equal(202);
    const same = await suite.api.waitFor(id, ['deployed', 'failed'], 120_000);
    expect(same.status, `${same.error_step}: ${same.error_message}`).to.equal('deployed');
    expect(same.deploy_result.unchanged, same.deploy_result.restart_reason).to.equal(true);
    expect(same.deploy_result.services[0]).to.include({ record: 'web.b', pid: service.pid });
    expect(same.deploy_result.drained).to.deep.equal([]);
    const steps = (same.deploy_result.steps as { id: string; skipped?: boolean }[])
      .filter((x) => !x.skipped)
      .map((x) => x.id);
    expect(steps).to.include.members(['health_check', 'edge_configure', 'https_check']);
    expect(steps).to.not.include.members(['start_services']);
    const answer = await get();
    expect('body' in answer && answer.body).to.equal('hello from version 2\n');
  });
});
