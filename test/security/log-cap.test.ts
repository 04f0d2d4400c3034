/** A run's stored output is capped (RUN_LOG_MAX_BYTES) with a visible marker; the run goes on. */
import { expect } from 'chai';
import {
  buildManifest,
  buildScenario,
  makeTempDir,
  removeTempDir,
  writeScenarioDir,
} from '../factories.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { serve, type ApiClient } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';

const CAP = 64 * 1024;

describe('per-run log cap', function () {
  this.timeout(60_000);
  let h: Harness;
  let api: ApiClient;
  let scenarios: string;

  before(async () => {
    scenarios = await makeTempDir();
    await writeScenarioDir(scenarios, {
      relPath: 'loud',
      scenario: buildScenario({
        // about 2 MB of output from the build step
        services: [
          {
            name: 'web',
            build: 'yes loud-build-output | head -c 2000000',
            start: 'node server.js',
            port: 'web',
          },
        ],
      }),
    });
    h = await createHarness('redis', { SCENARIOS_DIR: scenarios, RUN_LOG_MAX_BYTES: String(CAP) });
    h.startWorkers();
    api = await serve(h.app);
  });

  after(async () => {
    await api?.close();
    await h?.close();
    await removeTempDir(scenarios);
  });

  it('stores at most the cap per run, says so once, and the run still deploys', async () => {
    const manifest = buildManifest({
      scenario: { path: 'loud' },
      target: { type: 'local', workdir: 'targets/loud' },
      ports: { web: await freePort() },
    });
    const id = (await api.call('POST', '/api/v1/deployments', { manifest, execute: true })).body
      .deployment.id;
    const d = await api.waitFor(id, ['deployed', 'failed']);
    expect(d.status, d.error_message).to.equal('deployed');
    const rows = await h.db('deployment_logs').where({ run_id: d.run_id }).select('chunk');
    const text = rows.map((r: { chunk: string }) => r.chunk).join('');
    const markers = text.split('[stagecoach] output truncated').length - 1;
    expect(markers).to.equal(1);
    expect(Buffer.byteLength(text)).to.be.below(CAP + 1024);
    const build = d.deploy_result.steps.find((s: { id: string }) => s.id === 'build');
    expect(build.output_tail, 'the step keeps its tail').to.contain('loud-build-output');
    const logs = (await api.call('GET', `/api/v1/deployments/${id}/logs?limit=1000`)).body.logs;
    expect(logs.some((l: { chunk: string }) => l.chunk.includes('output truncated'))).to.equal(
      true,
    );
  });
});
