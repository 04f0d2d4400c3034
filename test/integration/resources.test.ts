/**
 * examples/notes-api through the whole pipeline: its build step (`npm install`) runs on the
 * target, PostgreSQL and Redis start per deployment, data survives stop and re-deploy.
 */
import { expect } from 'chai';
import { buildManifest } from '../factories.js';
import { useDeploySuite } from '../helpers/deploy-suite.js';
import { freePort } from '../helpers/ports.js';

describe('resources: notes-api with PostgreSQL and Redis', function () {
  this.timeout(180_000);
  const suite = useDeploySuite({ example: 'notes-api' });

  it('deploys, stores data, keeps it across stop (with resources) and re-deploy', async () => {
    const port = await freePort();
    const manifest = buildManifest({
      scenario: { path: 'examples/notes-api' },
      target: { type: 'local', workdir: 'targets/notes' },
      ports: { api: port },
      health: { timeout_s: 30 },
    });
    const created = await suite.api.call('POST', '/api/v1/deployments', {
      manifest,
      execute: true,
    });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    const id = created.body.deployment.id as string;
    suite.track(id, { stop_resources: true });
    const d = await suite.api.waitFor(id, ['deployed', 'failed'], 150_000);
    expect(d.status, d.error_message).to.equal('deployed');
    const kinds = d.deploy_result.resources.map((r: { kind: string }) => r.kind).sort();
    expect(kinds).to.deep.equal(['postgres', 'redis']);
    for (const r of d.deploy_result.resources) {
      expect(r.port).to.be.a('number');
    }

    const base = `http://127.0.0.1:${port}`;
    const post = await fetch(`${base}/notes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'remember the milk' }),
    });
    expect(post.status).to.equal(201);

    const inspect = await suite.api.call('POST', `/api/v1/deployments/${id}/inspect?wait=30`);
    const running = inspect.body.result.resources.map((r: { kind: string; running: boolean }) => [
      r.kind,
      r.running,
    ]);
    expect(running.sort()).to.deep.equal([
      ['postgres', true],
      ['redis', true],
    ]);

    await suite.api.call('POST', `/api/v1/deployments/${id}/stop`, { stop_resources: true });
    await suite.api.waitFor(id, ['stopped']);
    const stopped = await suite.api.call('POST', `/api/v1/deployments/${id}/inspect?wait=30`);
    expect(stopped.body.result.resources.every((r: { running: boolean }) => !r.running)).to.equal(
      true,
    );

    await suite.api.call('POST', `/api/v1/deployments/${id}/redeploy`, {});
    const again = await suite.api.waitFor(id, ['deployed', 'failed'], 120_000);
    expect(again.status, again.error_message).to.equal('deployed');
    const build = again.deploy_result.steps.find((s: { id: string }) => s.id === 'build');
    expect(build.ok).to.equal(true);
    const notes = (await (await fetch(`${base}/notes`)).json()) as { notes: { text: string }[] };
    expect(notes.notes.map((n) => n.text)).to.deep.equal(['remember the milk']);
  });
});
