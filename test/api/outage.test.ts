/**
 * Outages of stagecoach's own PostgreSQL and Redis: the API answers 503 `unavailable` within
 * its deadlines (never a 500, never SQL), /readyz says which one is down, and both recover.
 * Runs against throw-away servers so the machine's shared ones are never touched.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Knex } from 'knex';
import { createApp } from '../../api/app.js';
import { parseConfig } from '../../shared/config.js';
import { createDb, migrate } from '../../shared/db.js';
import { createLogger } from '../../shared/logger.js';
import { QUEUE_NAMES, QueueRegistry } from '../../shared/queues.js';
import { buildManifest } from '../factories.js';
import { IN_CI } from '../helpers/env.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { serve, type ApiClient } from '../helpers/http.js';
import { requireBinary } from '../helpers/sshd.js';
import { findPgBinDir, startThrowawayPg, type ThrowawayPg } from '../helpers/throwaway-pg.js';
import {
  REDIS_SERVER_BINARY,
  startThrowawayRedis,
  type ThrowawayRedis,
} from '../helpers/throwaway-redis.js';

const BASE = '/api/v1/deployments';

/** Calls the API and returns the answer with how long it took. */
async function timed(api: ApiClient, method: string, url: string) {
  const started = Date.now();
  const res = await api.call(method, url);
  return { ...res, ms: Date.now() - started };
}

/** Polls /readyz until it answers 200 (a restarted server is reconnected to lazily). */
async function waitReady(api: ApiClient, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const res = await api.call('GET', '/readyz');
    if (res.status === 200) {
      return;
    }
    last = res.body;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`/readyz did not recover: ${JSON.stringify(last)}`);
}

/** The 503 shape: code `unavailable`, a message, nothing from the driver. */
function expectUnavailable(res: { status: number; body: { error?: unknown } }): void {
  expect(res.status, JSON.stringify(res.body)).to.equal(503);
  const error = res.body.error as { code: string; message: string };
  expect(error.code).to.equal('unavailable');
  expect(error.message).to.be.a('string').and.not.equal('');
  const text = JSON.stringify(res.body);
  expect(text).not.to.match(/select |insert |from "|ECONNREFUSED|\bat .*\.ts:\d+/i);
}

describe('api: outages of the database and the queue backend', function () {
  this.timeout(60_000);
  let pg: ThrowawayPg | undefined;
  let redis: ThrowawayRedis | undefined;
  let db: Knex | undefined;
  let queues: QueueRegistry | undefined;
  let api: ApiClient | undefined;
  let dataDir: string | undefined;
  let deploymentId: string;

  before(async function () {
    requireBinary(REDIS_SERVER_BINARY, 'redis-server', this);
    if (!findPgBinDir()) {
      if (IN_CI) {
        throw new Error(
          'no /usr/lib/postgresql/*/bin/initdb: install the Debian package postgresql',
        );
      }
      this.skip();
    }
    [pg, redis] = await Promise.all([startThrowawayPg(), startThrowawayRedis()]);
    dataDir = await mkdtemp(path.join(tmpdir(), 'stagecoach-outage-'));
    const config = parseConfig({
      STAGECOACH_DATA_DIR: dataDir,
      SCENARIOS_DIR: process.cwd(),
      DATABASE_URL: pg.url,
      REDIS_URL: redis.url,
      LOG_LEVEL: 'silent',
    });
    db = createDb(pg.url);
    await migrate(db);
    queues = new QueueRegistry({ kind: 'redis', url: redis.url, prefix: 'outage' });
    for (const name of QUEUE_NAMES) {
      // without a listener BullMQ prints every reconnect failure with its stack to stderr
      queues.queue(name).on('error', () => undefined);
    }
    // nothing here executes a run, so the outbox relay is never needed
    const relay = { kick: () => undefined };
    const logger = createLogger('silent');
    api = await serve(createApp({ db, queues, relay, secrets: null, config, logger }));
    const created = await api.call('POST', BASE, { manifest: buildManifest() });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    deploymentId = created.body.deployment.id;
  });

  after(async () => {
    await api?.close();
    await queues?.close();
    await db?.destroy();
    await Promise.all([pg?.close(), redis?.close()]);
    if (dataDir) {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('/readyz is 200 while both are up', async () => {
    const res = await api!.call('GET', '/readyz');
    expect(res.body).to.deep.equal({ ok: true, database: true, queues: true });
  });

  it('Redis down: /readyz 503 within 2 s, inspect 503 within 5 s; both recover', async () => {
    await redis!.stop();
    try {
      const ready = await timed(api!, 'GET', '/readyz');
      expect(ready.status).to.equal(503);
      expect(ready.body).to.deep.equal({ ok: false, database: true, queues: false });
      expect(ready.ms).to.be.lessThan(2000);

      const inspect = await timed(api!, 'POST', `${BASE}/${deploymentId}/inspect?wait=5`);
      expectUnavailable(inspect);
      expect(inspect.ms).to.be.lessThan(5800); // the 5 s bound plus the request itself
    } finally {
      await redis!.start();
    }
    await waitReady(api!);
  });

  it('Redis hung (SIGSTOP): /readyz 503 within 2 s, then 200 when it answers again', async () => {
    redis!.freeze();
    try {
      const ready = await timed(api!, 'GET', '/readyz');
      expect([ready.status, ready.body.queues, ready.body.database]).to.deep.equal([
        503,
        false,
        true,
      ]);
      expect(ready.ms).to.be.lessThan(2000);
    } finally {
      redis!.thaw();
    }
    await waitReady(api!);
  });

  it('PostgreSQL down: GET deployments 503 within 5 s, /readyz 503 within 2 s; both recover', async () => {
    await pg!.stop();
    try {
      const list = await timed(api!, 'GET', BASE);
      expectUnavailable(list);
      expect(list.ms).to.be.lessThan(5000);

      const ready = await timed(api!, 'GET', '/readyz');
      expect(ready.status).to.equal(503);
      expect(ready.body).to.deep.equal({ ok: false, database: false, queues: true });
      expect(ready.ms).to.be.lessThan(2000);
    } finally {
      await pg!.start();
    }
    await waitReady(api!);
    const list = await api!.call('GET', BASE);
    expect(list.status, JSON.stringify(list.body)).to.equal(200);
  });

  it('PostgreSQL hung (SIGSTOP): /readyz 503 within 2 s, then 200 when it answers again', async () => {
    pg!.freeze();
    try {
      const ready = await timed(api!, 'GET', '/readyz');
      expect([ready.status, ready.body.database, ready.body.queues]).to.deep.equal([
        503,
        false,
        true,
      ]);
      expect(ready.ms).to.be.lessThan(2000);
    } finally {
      pg!.thaw();
    }
    await waitReady(api!);
  });
});

describe('api: inspect?wait under load', function () {
  this.timeout(60_000);
  let h: Harness;
  let api: ApiClient;

  before(async () => {
    h = await createHarness('redis');
    h.startWorkers();
    api = await serve(h.app);
  });

  after(async () => {
    await api?.close();
    await h?.close();
  });

  it('40 concurrent inspect?wait=30 all answer 200 with a result', async () => {
    const created = await api.call('POST', BASE, { manifest: buildManifest() });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    const id = created.body.deployment.id as string;
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => api.call('POST', `${BASE}/${id}/inspect?wait=30`)),
    );
    for (const res of answers) {
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.result, JSON.stringify(res.body)).to.be.an('object');
    }
    expect(new Set(answers.map((a) => a.body.job_id)).size).to.equal(40);
  });
});
