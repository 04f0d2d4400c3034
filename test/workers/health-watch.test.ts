/** Health watch: a killed service turns a deployment `down` (status stays), a re-deploy heals it. */
import { expect } from 'chai';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { createLogger } from '../../shared/logger.js';
import { buildManifest } from '../factories.js';
import { createHarness, type BackendKind, type Harness } from '../helpers/harness.js';
import { serve, type ApiClient } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { copyExample } from '../helpers/scenario-dir.js';

for (const kind of ['redis', 'postgres'] as BackendKind[]) {
  describe(`health watch on the ${kind} queue backend (every second)`, function () {
    this.timeout(120_000);
    let h: Harness;
    let api: ApiClient;
    let scenarios: string;
    let id: string | undefined;
    const logLines: string[] = [];

    before(async () => {
      scenarios = await copyExample('hello-web');
      h = await createHarness(
        kind,
        { SCENARIOS_DIR: scenarios, HEALTH_WATCH_SECONDS: '1' },
        createLogger('info', { write: (line: string) => void logLines.push(line) }),
      );
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

    /** Polls the deployment until its recorded health is `state`. */
    async function waitForHealth(state: string, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      let last: unknown;
      while (Date.now() < deadline) {
        const d = (await api.call('GET', `/api/v1/deployments/${id}`)).body.deployment;
        last = d;
        if (d.health?.state === state) {
          return d;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`health did not become ${state}: ${JSON.stringify(last)}`);
    }

    /** The pid of the web service, from the local target's pid file. */
    async function webPid(): Promise<number> {
      const root = path.join(h.dataDir, 'targets');
      const files = (await readdir(root, { recursive: true })) as string[];
      const file = files.find((f) => f.endsWith(path.join('state', 'run', 'web.pid')));
      expect(file, 'web.pid under the target').to.be.a('string');
      return Number((await readFile(path.join(root, file!), 'utf8')).trim());
    }

    it('records healthy, then down after kill -9 (status stays deployed), then healthy again', async () => {
      const manifest = buildManifest({
        target: { type: 'local', workdir: 'targets/watched' },
        ports: { web: await freePort() },
      });
      const res = await api.call('POST', '/api/v1/deployments', { manifest, execute: true });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      id = res.body.deployment.id as string;
      const d = await api.waitFor(id, ['deployed', 'failed']);
      expect(d.status, JSON.stringify(d.deploy_result ?? d.error_message)).to.equal('deployed');

      const healthy = await waitForHealth('healthy');
      expect(healthy.health.services).to.deep.equal([{ name: 'web', running: true }]);
      expect(healthy.health.checked_at).to.be.a('string');

      // the whole process group: a dead leader with live members still counts as running
      process.kill(-(await webPid()), 'SIGKILL');
      const down = await waitForHealth('down');
      const changes = logLines
        .map(
          (l) => JSON.parse(l) as { msg: string; deployment?: string; from?: string; to?: string },
        )
        .filter((l) => l.msg === 'deployment health changed' && l.deployment === id);
      expect(changes.map((l) => [l.from, l.to])).to.deep.include.members([
        [null, 'healthy'],
        ['healthy', 'down'],
      ]);
      expect(down.status).to.equal('deployed');
      expect(down.run_active).to.equal(false);
      expect(down.health.services).to.deep.equal([{ name: 'web', running: false }]);

      const listed = await api.call('GET', '/api/v1/deployments?health=down');
      expect(listed.status).to.equal(200);
      expect(listed.body.deployments.map((x: { id: string }) => x.id)).to.deep.equal([id]);
      const none = await api.call('GET', '/api/v1/deployments?health=healthy');
      expect(none.body.deployments).to.deep.equal([]);
      const bad = await api.call('GET', '/api/v1/deployments?health=sick');
      expect(bad.status).to.equal(422);

      expect((await api.call('POST', `/api/v1/deployments/${id}/redeploy`, {})).status).to.equal(
        202,
      );
      expect((await api.waitFor(id, ['deployed', 'failed'])).status).to.equal('deployed');
      await waitForHealth('healthy');
      const healed = await api.call('GET', '/api/v1/deployments?health=healthy');
      expect(healed.body.deployments.map((x: { id: string }) => x.id)).to.deep.equal([id]);
    });
  });
}
