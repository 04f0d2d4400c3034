/**
 * Finding 9 of the security review: a NUL byte in a command's output broke the log insert (the
 * output was lost) and made inspect answer 502 with the SQL statement in its message. Output is
 * text: a NUL arrives as U+FFFD (like any byte that is not UTF-8), on local and SSH targets, and
 * an inspect failure never shows SQL.
 */
import { expect } from 'chai';
import os from 'node:os';
import path from 'node:path';
import { rm } from 'node:fs/promises';
import { publicReason } from '../../api/routes/inspect.js';
import { appendLogs, listLogs } from '../../shared/repositories/logs.js';
import { buildManifest, buildScenario, writeScenarioDir } from '../factories.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { serve, type ApiClient } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { startRemoteHost, type RemoteHost } from '../helpers/remote-host.js';
import { requireBinary, SSHD_BINARY } from '../helpers/sshd.js';

const REPLACEMENT = '\uFFFD';

describe('security: NUL bytes in command output', function () {
  this.timeout(180_000);
  let h: Harness;
  let api: ApiClient;
  let host: RemoteHost;
  const scenarios = path.join(os.tmpdir(), `stagecoach-nul-${process.pid}`);

  before(async function () {
    requireBinary(SSHD_BINARY, 'openssh-server', this);
    await writeScenarioDir(scenarios, {
      relPath: 'nul',
      scenario: buildScenario({
        services: [
          {
            name: 'web',
            build: "printf 'build-a\\0build-b\\n'",
            start: "printf 'start-a\\0start-b\\n'; exec node server.js",
            port: 'web',
          },
        ],
      }),
    });
    host = await startRemoteHost();
    h = await createHarness('redis', { SCENARIOS_DIR: scenarios });
    h.startWorkers();
    api = await serve(h.app);
  });

  after(async () => {
    await api?.close();
    await h?.close();
    await host?.close();
    await rm(scenarios, { recursive: true, force: true });
  });

  const targets: [string, () => Record<string, unknown>][] = [
    ['a local target', () => ({ type: 'local', workdir: 'targets/nul' })],
    ['an SSH target', () => host.target('nul')],
  ];
  for (const [what, target] of targets) {
    it(`on ${what}: the run succeeds, the log keeps the output, inspect answers 200`, async () => {
      const manifest = buildManifest({
        scenario: { path: 'nul' },
        ports: { web: await freePort() },
        health: { timeout_s: 30 },
        target: target() as never,
      });
      const res = await api.call('POST', '/api/v1/deployments', { manifest, execute: true });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      const id = res.body.deployment.id as string;
      const d = await api.waitFor(id, ['deployed', 'failed'], 120_000);
      expect(d.status, d.error_message).to.equal('deployed');

      const inspect = await api.call('POST', `/api/v1/deployments/${id}/inspect?wait=30`);
      expect(inspect.status, JSON.stringify(inspect.body)).to.equal(200);
      expect(inspect.body.result.logs.web.join('\n')).to.include(`start-a${REPLACEMENT}start-b`);

      const logs = await api.call('GET', `/api/v1/deployments/${id}/logs?limit=1000`);
      expect(logs.status).to.equal(200);
      const text = (logs.body.logs as { chunk: string }[]).map((l) => l.chunk).join('');
      expect(text).to.include(`build-a${REPLACEMENT}build-b`);
      await api.call('POST', `/api/v1/deployments/${id}/stop`, {});
      await api.waitFor(id, ['stopped'], 60_000);
    });
  }

  it('stores a NUL that reaches the log repository directly, as U+FFFD', async () => {
    const manifest = buildManifest({ scenario: { path: 'nul' } });
    const res = await api.call('POST', '/api/v1/deployments', { manifest });
    const id = res.body.deployment.id as string;
    await appendLogs(h.db, [
      {
        deployment_id: id,
        run_id: null,
        stage: 'build',
        step: 'x',
        stream: 'stdout',
        chunk: 'p\0q',
      },
    ]);
    const rows = await listLogs(h.db, id, { limit: 10 });
    expect(rows.map((r) => r.chunk)).to.deep.equal([`p${REPLACEMENT}q`]);
  });

  it('never puts SQL in the 502 of a failed inspect', () => {
    const knexMessage =
      'update "t_1"."deployments" set "inspect_result" = $1 where "id" = $2 - ' +
      'unsupported Unicode escape sequence';
    const reason = publicReason(knexMessage);
    expect(reason).not.to.match(/update|deployments|inspect_result|\$1/i);
    expect(reason).to.match(/worker's log/);
    const ours = 'SSH key k for root@10.0.0.1:22 is not a readable file inside SSH_KEYS_DIR';
    expect(publicReason(ours)).to.equal(ours);
  });
});
