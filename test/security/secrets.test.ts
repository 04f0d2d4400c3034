/**
 * Manifest secrets end to end: sealed at rest, `***` in every answer, redacted from logs, on the
 * target only in the 0600 secrets file, generated values kept across re-deploys, gone on DELETE.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { createApp } from '../../api/app.js';
import { createLogger } from '../../shared/logger.js';
import {
  buildManifest,
  buildScenario,
  writeScenarioDir,
  makeTempDir,
  removeTempDir,
} from '../factories.js';
import { TEST_REDIS_URL } from '../helpers/env.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { serve, type ApiClient } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';

const GIVEN = 'S3cr3t-given-Value-9f2c';
const SERVER = `const http = require('node:http');
http.createServer((q, s) => {
  if (q.url === '/health') { s.end('ok'); return; }
  s.end(JSON.stringify({ given: process.env.DB_PASSWORD, generated: process.env.API_KEY }));
}).listen(process.env.PORT);
`;

/** Every regular file below `dir` (paths). */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

describe('secrets: sealed, redacted, delivered only to a 0600 file', function () {
  this.timeout(120_000);
  let h: Harness;
  let api: ApiClient;
  let scenarios: string;
  let id: string;
  let port: number;
  let generated: string;
  const logLines: string[] = [];

  before(async () => {
    scenarios = await makeTempDir();
    await writeScenarioDir(scenarios, {
      relPath: 'secret-app',
      scenario: buildScenario({
        services: [
          {
            name: 'web',
            build: 'echo "building with $DB_PASSWORD and $API_KEY"',
            start: 'node server.cjs',
            port: 'web',
          },
        ],
      }),
      files: { 'server.cjs': SERVER },
    });
    // everything stagecoach logs, at debug level, to search for the values
    await writeScenarioDir(scenarios, {
      relPath: 'secret-fail',
      scenario: buildScenario({
        services: [
          {
            name: 'web',
            build: 'echo "leaking $DB_PASSWORD"; exit 3',
            start: 'node server.cjs',
            port: 'web',
          },
        ],
      }),
      files: { 'server.cjs': SERVER },
    });
    h = await createHarness(
      'redis',
      { SCENARIOS_DIR: scenarios },
      createLogger('debug', { write: (line: string) => void logLines.push(line) }),
    );
    h.startWorkers();
    api = await serve(h.app);
    port = await freePort();
    const manifest = buildManifest({
      scenario: { path: 'secret-app' },
      target: { type: 'local', workdir: 'targets/secret' },
      ports: { web: port },
      env: { GREETING: 'plain' },
      secrets: { DB_PASSWORD: { value: GIVEN }, API_KEY: { generate: { length: 40 } } },
    });
    const res = await api.call('POST', '/api/v1/deployments', { manifest, execute: true });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    id = res.body.deployment.id;
    const d = await api.waitFor(id, ['deployed', 'failed']);
    expect(d.status, d.error_message).to.equal('deployed');
    const served = await (await fetch(`http://127.0.0.1:${port}/`)).json();
    expect(served.given, 'the app gets the given value').to.equal(GIVEN);
    expect(served.generated).to.match(/^[A-Za-z0-9]{40}$/);
    generated = served.generated;
  });

  after(async () => {
    await api?.close();
    await h?.close();
    await removeTempDir(scenarios);
  });

  const values = () => [GIVEN, generated];
  const expectClean = (what: string, text: string) => {
    for (const v of values()) {
      expect(text.includes(v), `${what} holds a secret value`).to.equal(false);
    }
  };

  it('shows *** in every answer and redacts the build output', async () => {
    const d = (await api.call('GET', `/api/v1/deployments/${id}`)).body.deployment;
    expect(d.manifest.secrets).to.deep.equal({
      DB_PASSWORD: { value: '***' },
      API_KEY: { generate: { length: 40 } },
    });
    expect(d).to.not.have.property('secrets');
    for (const p of ['', `/${id}`, `/${id}/history`, `/${id}/logs?limit=1000`]) {
      expectClean(
        `GET ${p}`,
        JSON.stringify((await api.call('GET', `/api/v1/deployments${p}`)).body),
      );
    }
    const logs = (await api.call('GET', `/api/v1/deployments/${id}/logs?limit=1000`)).body.logs;
    const build = logs.map((l: { chunk: string }) => l.chunk).join('');
    expect(build).to.contain('building with *** and ***');
    const inspect = await api.call('POST', `/api/v1/deployments/${id}/inspect?wait=30`, {});
    expectClean('inspect', JSON.stringify(inspect.body));
  });

  it('keeps values out of a failure: error message, step result and logs', async () => {
    const manifest = buildManifest({
      scenario: { path: 'secret-fail' },
      target: { type: 'local', workdir: 'targets/secret-fail' },
      ports: { web: await freePort() },
      secrets: { DB_PASSWORD: { value: GIVEN } },
    });
    const res = await api.call('POST', '/api/v1/deployments', { manifest, execute: true });
    const d = await api.waitFor(res.body.deployment.id, ['failed', 'deployed']);
    expect(d).to.include({ status: 'failed', error_step: 'build' });
    expect(d.error_message).to.contain('leaking ***');
    expectClean('the failed deployment', JSON.stringify(d));
  });

  it('logs no value (pino output of API and workers at debug level)', () => {
    const text = logLines.join('');
    expect(text).to.contain('stage started');
    expect(text).to.contain('stage ended: failed');
    expectClean('pino output', text);
  });

  it('keeps no value in clear in the database or the queues', async () => {
    const row = await h.db('deployments').where({ id }).first();
    expect(Object.keys(row.secrets).sort()).to.deep.equal(['API_KEY', 'DB_PASSWORD']);
    expect(row.secrets.DB_PASSWORD).to.match(/^v1\./);
    for (const table of ['deployments', 'deployment_events', 'deployment_logs', 'job_outbox']) {
      expectClean(table, JSON.stringify(await h.db(table).select('*')));
    }
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const prefix = (h.queues.backend as { prefix: string }).prefix;
      const keys = await redis.keys(`${prefix}:*`);
      expect(keys.length).to.be.greaterThan(0);
      for (const key of keys) {
        const type = await redis.type(key);
        const dump =
          type === 'hash'
            ? JSON.stringify(await redis.hgetall(key))
            : type === 'string'
              ? await redis.get(key)
              : '';
        expectClean(`redis ${key}`, dump ?? '');
      }
    } finally {
      redis.disconnect();
    }
  });

  it('writes the values on the target only to state/secrets.env, mode 0600', async () => {
    const home = path.join(h.dataDir, 'targets', 'secret');
    const secretsFile = path.join(home, 'state', 'secrets.env');
    expect(statSync(secretsFile).mode & 0o777).to.equal(0o600);
    expect(
      statSync(path.dirname(secretsFile)).mode & 0o044,
      'state/ is not listable by others',
    ).to.equal(0);
    expect(readFileSync(secretsFile, 'utf8')).to.contain(GIVEN);
    const others = filesUnder(home).filter((f) => f !== secretsFile);
    expect(others.length).to.be.greaterThan(10);
    for (const f of others) {
      expectClean(f, readFileSync(f).toString('latin1'));
    }
    expectClean(
      'the bundle cache',
      filesUnder(path.join(h.dataDir, 'bundles'))
        .map((f) => readFileSync(f).toString('latin1'))
        .join(''),
    );
  });

  it('keeps a generated value across a re-deploy, and drops the sealed values on DELETE', async () => {
    expect((await api.call('POST', `/api/v1/deployments/${id}/redeploy`, {})).status).to.equal(202);
    expect((await api.waitFor(id, ['deployed', 'failed'])).status).to.equal('deployed');
    const served = await (await fetch(`http://127.0.0.1:${port}/`)).json();
    expect(served.generated).to.equal(generated);
    await api.call('POST', `/api/v1/deployments/${id}/stop`, {});
    await api.waitFor(id, ['stopped']);
    expect((await api.call('DELETE', `/api/v1/deployments/${id}`)).status).to.equal(204);
    expect((await h.db('deployments').where({ id }).first()).secrets).to.equal(null);
  });

  it('refuses secrets with 422 secrets_unavailable where no key is configured', async () => {
    const keyless = await serve(
      createApp({
        db: h.db,
        queues: h.queues,
        relay: { kick: () => undefined },
        secrets: null,
        config: h.config,
        logger: h.ctx.logger,
      }),
    );
    try {
      const manifest = buildManifest({
        scenario: { path: 'secret-app' },
        target: { type: 'local', workdir: 'targets/keyless' },
        ports: { web: await freePort() },
        secrets: { X_TOKEN: { value: 'abcdefgh' } },
      });
      const res = await keyless.call('POST', '/api/v1/deployments', { manifest });
      expect(res.status).to.equal(422);
      expect(res.body.error.code).to.equal('secrets_unavailable');
      expect(res.body.error.message).to.contain('STAGECOACH_SECRET_KEY');
    } finally {
      await keyless.close();
    }
  });
});
