/** API → queues → workers → Postgres on both queue backends, deploying to a local target. */
import { expect } from 'chai';
import path from 'node:path';
import { rm } from 'node:fs/promises';
import { buildManifest } from '../factories.js';
import { createHarness, type BackendKind, type Harness } from '../helpers/harness.js';
import { expectValidHistory } from '../helpers/history.js';
import { serve, type ApiClient } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { copyExample, editFile } from '../helpers/scenario-dir.js';

for (const kind of ['postgres', 'redis'] as BackendKind[]) {
  describe(`pipeline on the ${kind} queue backend`, function () {
    this.timeout(120_000);
    let h: Harness;
    let api: ApiClient;
    let scenarios: string;
    const deployed: string[] = [];

    before(async () => {
      scenarios = await copyExample('hello-web');
      h = await createHarness(kind, { SCENARIOS_DIR: scenarios });
      h.startWorkers();
      api = await serve(h.app);
    });

    after(async () => {
      for (const id of deployed) {
        await api.call('POST', `/api/v1/deployments/${id}/stop`, {});
        await api
          .waitFor(id, ['stopped', 'failed', 'pending', 'deployed'], 20_000)
          .catch(() => undefined);
      }
      await api?.close();
      await h?.close();
      await rm(scenarios, { recursive: true, force: true });
    });

    async function create(workdir: string, overrides = {}) {
      const port = await freePort();
      const manifest = buildManifest({
        target: { type: 'local', workdir },
        ports: { web: port },
        ...overrides,
      });
      const res = await api.call('POST', '/api/v1/deployments', { manifest });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      deployed.push(res.body.deployment.id);
      return { id: res.body.deployment.id as string, port };
    }

    it('shows the four queues in Bull Board', async () => {
      const res = await fetch(`${api.url}/admin/queues/api/queues`);
      expect(res.status).to.equal(200);
      const body = (await res.json()) as { queues: { name: string }[] };
      expect(body.queues.map((q) => q.name).sort()).to.deep.equal([
        'build',
        'deploy',
        'inspect',
        'setup',
      ]);
    });

    it('deploys, inspects, stops, re-deploys, with a valid history', async () => {
      const { id, port } = await create('targets/full', { env: { GREETING: 'hi there' } });
      const exec = await api.call('POST', `/api/v1/deployments/${id}/execute`, {});
      expect(exec.status).to.equal(202);
      expect(exec.body.run_id).to.be.a('string');
      const d = await api.waitFor(id, ['deployed', 'failed']);
      expect(d.status, JSON.stringify(d.deploy_result ?? d.error_message)).to.equal('deployed');
      expect(d.bundle.sha256).to.match(/^[0-9a-f]{64}$/);
      expect(d.last_deployed_at).to.be.a('string');
      expect(d.deploy_result.steps.map((s: { id: string }) => s.id)).to.include.members([
        'start_services',
        'health_check',
        'prune',
      ]);
      expect(d.deploy_result.steps.every((s: { ok: boolean }) => s.ok)).to.equal(true);
      const page = await fetch(`http://127.0.0.1:${port}/`);
      expect(await page.text()).to.contain('hi there');

      const inspect = await api.call('POST', `/api/v1/deployments/${id}/inspect?wait=30`);
      expect(inspect.status).to.equal(200);
      expect(inspect.body.result.ok).to.equal(true);
      expect(inspect.body.result.services[0]).to.include({ name: 'web', running: true });
      expect(
        (await api.call('GET', `/api/v1/deployments/${id}`)).body.deployment.last_inspected_at,
      ).to.be.a('string');

      expect((await api.call('POST', `/api/v1/deployments/${id}/stop`, {})).status).to.equal(202);
      await api.waitFor(id, ['stopped']);
      await fetch(`http://127.0.0.1:${port}/`).then(
        () => expect.fail('service still answers after stop'),
        () => undefined,
      );

      const again = await api.call('POST', `/api/v1/deployments/${id}/redeploy`, {});
      expect(again.status).to.equal(202);
      expect(again.body.deployment.status).to.equal('deploying');
      const redeployed = await api.waitFor(id, ['deployed', 'failed']);
      expect(redeployed.status).to.equal('deployed');
      expect(await (await fetch(`http://127.0.0.1:${port}/health`)).json()).to.deep.equal({
        ok: true,
      });

      const history = (await api.call('GET', `/api/v1/deployments/${id}/history`)).body.events;
      expectValidHistory(history);
      const statusEvents = history.filter((e: { kind: string }) => e.kind === 'status');
      expect(statusEvents.map((e: { to_status: string }) => e.to_status)).to.deep.equal([
        'pending',
        'setup_running',
        'setup_complete',
        'deploying',
        'deployed',
        'stopped',
        'deploying',
        'deployed',
      ]);
      // every run start and every stage start and end is in the history
      const marks = history
        .filter((e: { kind: string }) => e.kind !== 'status')
        .map((e: { kind: string; stage: string }) => `${e.kind}:${e.stage}`);
      expect(marks).to.deep.equal([
        'run_started:build',
        'stage_started:build',
        'stage_finished:build',
        'stage_started:setup',
        'stage_finished:setup',
        'stage_started:deploy',
        'stage_finished:deploy',
        'run_ended:deploy',
        'run_started:stop',
        'stage_started:stop',
        'stage_finished:stop',
        'run_ended:stop',
        'run_started:deploy',
        'stage_started:deploy',
        'stage_finished:deploy',
        'run_ended:deploy',
      ]);
      // the run kind is a column of the run's start and end; nothing failed, so no code
      const runs = history
        .filter((e: { kind: string }) => e.kind.startsWith('run_'))
        .map((e: { kind: string; run_kind: string }) => `${e.kind}:${e.run_kind}`);
      expect(runs).to.deep.equal([
        'run_started:execute',
        'run_ended:execute',
        'run_started:stop',
        'run_ended:stop',
        'run_started:redeploy',
        'run_ended:redeploy',
      ]);
      expect(history.filter((e: { code: string | null }) => e.code !== null)).to.deep.equal([]);
      const logs = (await api.call('GET', `/api/v1/deployments/${id}/logs`)).body.logs;
      expect(logs.some((l: { step: string }) => l.step === 'health_check')).to.equal(true);
    });

    it('fails at health_check, then Retry after fixing the scenario ends deployed', async () => {
      const server = path.join(scenarios, 'examples/hello-web/server.js');
      await editFile(server, "'/health'", "'/broken-health'");
      const { id } = await create('targets/retry', { health: { timeout_s: 3 } });
      await api.call('POST', `/api/v1/deployments/${id}/execute`, {});
      const failed = await api.waitFor(id, ['failed', 'deployed']);
      expect(failed.status).to.equal('failed');
      expect(failed.error_step).to.equal('health_check');
      expect(failed.error_code).to.equal('health_check_failed');
      expect(failed.error_message).to.contain('health');
      expect(failed.deploy_result.ok).to.equal(false);
      expect(failed.deploy_result.error.step).to.equal('health_check');
      expect(
        (await api.call('POST', `/api/v1/deployments/${id}/redeploy`, {})).body.error.code,
      ).to.equal('invalid_state');
      // the failure's code is a column of the stage's end, the status change and the run's end
      const events = (await api.call('GET', `/api/v1/deployments/${id}/history`)).body.events;
      const coded = events
        .filter((e: { code: string | null }) => e.code !== null)
        .map((e: { kind: string; code: string }) => `${e.kind}:${e.code}`);
      expect(coded).to.deep.equal([
        'stage_finished:health_check_failed',
        'status:health_check_failed',
        'run_ended:health_check_failed',
      ]);
      expect(events.at(-1)).to.include({ kind: 'run_ended', run_kind: 'execute' });

      await editFile(server, "'/broken-health'", "'/health'");
      const retry = await api.call('POST', `/api/v1/deployments/${id}/retry`, {});
      expect(retry.status).to.equal(202);
      const ok = await api.waitFor(id, ['deployed', 'failed']);
      expect(ok.status, ok.error_message).to.equal('deployed');
      expect(ok.error_step).to.equal(null);
      expect(ok.bundle.sha256).to.not.equal(failed.bundle.sha256);
      expectValidHistory((await api.call('GET', `/api/v1/deployments/${id}/history`)).body.events);
    });

    it('refuses a second run while one is active, and deleting during it', async () => {
      const { id } = await create('targets/busy');
      expect((await api.call('POST', `/api/v1/deployments/${id}/execute`, {})).status).to.equal(
        202,
      );
      const second = await api.call('POST', `/api/v1/deployments/${id}/execute`, {});
      expect(second.status).to.equal(409);
      expect(second.body.error.code).to.equal('already_running');
      expect((await api.call('DELETE', `/api/v1/deployments/${id}`)).status).to.equal(409);
      await api.waitFor(id, ['deployed', 'failed']);
      await api.call('POST', `/api/v1/deployments/${id}/stop`, {});
      await api.waitFor(id, ['stopped']);
      expect((await api.call('DELETE', `/api/v1/deployments/${id}`)).status).to.equal(204);
      expect((await api.call('GET', `/api/v1/deployments/${id}`)).status).to.equal(404);
    });
  });
}
