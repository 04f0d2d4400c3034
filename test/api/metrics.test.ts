/**
 * GET /metrics: values derived from the database and the queues after real runs (one cancelled
 * before its job ran, one hello-web deploy through the workers), the incremental history read,
 * and who may scrape.
 */
import { expect } from 'chai';
import type { Server } from 'node:http';
import { networkInterfaces } from 'node:os';
import { rm } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { createApp } from '../../api/app.js';
import { readEvent } from '../../api/metrics/collectors.js';
import { HistoryFeed } from '../../api/metrics/history-feed.js';
import { parseConfig, type Config } from '../../shared/config.js';
import { createLogger } from '../../shared/logger.js';
import { QUEUE_NAMES } from '../../shared/queues.js';
import type { EventKind } from '../../shared/repositories/events.js';
import { STATUSES } from '../../shared/status.js';
import { buildManifest } from '../factories.js';
import { createHarness, type BackendKind, type Harness } from '../helpers/harness.js';
import { serve, type ApiClient } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { copyExample } from '../helpers/scenario-dir.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus' text exposition format (comments skipped). */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) {
      expect(line === '' || line.startsWith('#'), `unparsed line: ${line}`).to.equal(true);
      continue;
    }
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[k!] = v!;
    }
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of the one sample named `name` whose labels include `labels` (undefined: none). */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}) {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  expect(found.length, `${name} ${JSON.stringify(labels)}`).to.be.at.most(1);
  return found[0]?.value;
}

/** An app over the harness's database and queues with other configuration. */
function appWith(h: Harness, overrides: Partial<Config>) {
  const config = { ...h.config, ...overrides };
  const logger = createLogger('silent');
  return createApp({
    db: h.db,
    queues: h.queues,
    config,
    logger,
    relay: { kick() {} },
    secrets: null,
  });
}

for (const kind of ['postgres', 'redis'] as BackendKind[]) {
  describe(`GET /metrics on the ${kind} queue backend`, function () {
    this.timeout(120_000);
    let h: Harness;
    let api: ApiClient;
    let scenarios: string;
    const ids: string[] = [];

    before(async () => {
      scenarios = await copyExample('hello-web');
      h = await createHarness(kind, { SCENARIOS_DIR: scenarios });
      api = await serve(h.app);
    });

    after(async () => {
      for (const id of ids) {
        await api.call('POST', `/api/v1/deployments/${id}/stop`, {});
      }
      for (const id of ids) {
        await api.waitFor(id, ['stopped', 'failed', 'pending'], 20_000).catch(() => undefined);
      }
      await api?.close();
      await h?.close();
      await rm(scenarios, { recursive: true, force: true });
    });

    async function create(workdir: string, execute = false): Promise<string> {
      const manifest = buildManifest({
        target: { type: 'local', workdir },
        ports: { web: await freePort() },
      });
      const res = await api.call('POST', '/api/v1/deployments', { manifest, execute });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      ids.push(res.body.deployment.id);
      return res.body.deployment.id as string;
    }

    async function scrape(): Promise<Sample[]> {
      const res = await fetch(`${api.url}/metrics`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
      return parseExposition(await res.text());
    }

    it('reports deployments, runs, failures, stage durations and queue jobs', async () => {
      await create('targets/m-idle1');
      await create('targets/m-idle2');
      // no worker runs yet: the cancel ends the queued run at once (failed, code cancelled)
      const cancelled = await create('targets/m-cancelled', true);
      expect(
        (await api.call('POST', `/api/v1/deployments/${cancelled}/cancel`, {})).status,
      ).to.equal(202);
      h.startWorkers();
      const deployed = await create('targets/m-deployed', true);
      const d = await api.waitFor(deployed, ['deployed', 'failed']);
      expect(d.status, d.error_message).to.equal('deployed');

      const s = await scrape();
      const expected: Record<string, number> = { pending: 2, failed: 1, deployed: 1 };
      for (const status of STATUSES) {
        expect(valueOf(s, 'stagecoach_deployments', { status }), status).to.equal(
          expected[status] ?? 0,
        );
      }
      expect(valueOf(s, 'stagecoach_runs_started_total', { kind: 'execute' })).to.equal(2);
      expect(valueOf(s, 'stagecoach_runs_started_total', { kind: 'retry' })).to.equal(0);
      expect(valueOf(s, 'stagecoach_runs_failed_total', { code: 'cancelled' })).to.equal(1);
      for (const stage of ['build', 'setup', 'deploy']) {
        const labels = { stage, outcome: 'ok' };
        expect(valueOf(s, 'stagecoach_stage_duration_seconds_count', labels), stage).to.equal(1);
        expect(valueOf(s, 'stagecoach_stage_duration_seconds_sum', labels)).to.be.above(0);
        const inf = { ...labels, le: '+Inf' };
        expect(valueOf(s, 'stagecoach_stage_duration_seconds_bucket', inf)).to.equal(1);
      }
      // the cancelled build never started: no duration to observe
      expect(
        valueOf(s, 'stagecoach_stage_duration_seconds_count', { outcome: 'cancelled' }),
      ).to.equal(undefined);
      for (const queue of QUEUE_NAMES) {
        for (const state of ['waiting', 'active', 'delayed', 'failed', 'completed']) {
          expect(
            valueOf(s, 'stagecoach_queue_jobs', { queue, state }),
            `${queue} ${state}`,
          ).to.be.a('number');
        }
      }
      // the deploy job may still be finishing when the row says deployed; build is long done
      expect(
        valueOf(s, 'stagecoach_queue_jobs', { queue: 'build', state: 'completed' }),
      ).to.be.at.least(1);

      // a second scrape reads nothing new and counts nothing twice
      const again = await scrape();
      expect(valueOf(again, 'stagecoach_runs_started_total', { kind: 'execute' })).to.equal(2);
      const deploy = { stage: 'deploy', outcome: 'ok' };
      expect(valueOf(again, 'stagecoach_stage_duration_seconds_count', deploy)).to.equal(1);
    });

    it('counts an event whose id became visible after a higher one', async () => {
      const before = valueOf(await scrape(), 'stagecoach_runs_started_total', { kind: 'retry' });
      const seq = "pg_get_serial_sequence('deployment_events', 'id')";
      const { rows } = await h.db.raw(`SELECT nextval(${seq}) AS a, nextval(${seq}) AS b`);
      const event = (id: string) => ({
        id,
        deployment_id: ids[0],
        run_id: null,
        from_status: 'pending',
        to_status: 'pending',
        kind: 'run_started',
        message: 'retry',
        run_kind: 'retry',
        actor: 'test',
      });
      await h.db('deployment_events').insert(event(rows[0].b));
      const first = await scrape();
      expect(valueOf(first, 'stagecoach_runs_started_total', { kind: 'retry' })).to.equal(
        before! + 1,
      );
      await h.db('deployment_events').insert(event(rows[0].a));
      const second = await scrape();
      expect(valueOf(second, 'stagecoach_runs_started_total', { kind: 'retry' })).to.equal(
        before! + 2,
      );
      const third = await scrape();
      expect(valueOf(third, 'stagecoach_runs_started_total', { kind: 'retry' })).to.equal(
        before! + 2,
      );
    });

    it('counts from the code and run_kind columns, never from the message text', async () => {
      const runId = randomUUID();
      const base = {
        deployment_id: ids[0],
        run_id: runId,
        from_status: 'pending',
        to_status: 'pending',
        actor: 'test',
      };
      const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
      await h.db('deployment_events').insert([
        // kind and code in the columns, the messages say something else (or nothing)
        { ...base, kind: 'run_started', message: 'execute, worded anew', run_kind: 'rollback' },
        { ...base, kind: 'run_ended', message: 'all went wrong', code: 'm_odd_code' },
        // a message of the old shape without a column counts nothing
        { ...base, kind: 'run_ended', message: 'execute run failed: m_text_only' },
        { ...base, kind: 'stage_started', stage: 'mprobe', message: 'x', created_at: at(0) },
        {
          ...base,
          kind: 'stage_finished',
          stage: 'mprobe',
          message: 'fine',
          code: 'cancelled',
          created_at: at(2),
        },
        { ...base, kind: 'stage_started', stage: 'mprobe', message: 'x', created_at: at(3) },
        {
          ...base,
          kind: 'stage_finished',
          stage: 'mprobe',
          message: 'mprobe failed: m_x',
          created_at: at(4),
        },
      ]);
      const s = await scrape();
      expect(valueOf(s, 'stagecoach_runs_started_total', { kind: 'rollback' })).to.equal(1);
      expect(valueOf(s, 'stagecoach_runs_failed_total', { code: 'm_odd_code' })).to.equal(1);
      expect(valueOf(s, 'stagecoach_runs_failed_total', { code: 'm_text_only' })).to.equal(
        undefined,
      );
      const count = (outcome: string) =>
        valueOf(s, 'stagecoach_stage_duration_seconds_count', { stage: 'mprobe', outcome });
      expect(count('cancelled')).to.equal(1);
      expect(count('ok')).to.equal(1);
      expect(count('failed')).to.equal(undefined);
      const sum = { stage: 'mprobe', outcome: 'cancelled' };
      expect(valueOf(s, 'stagecoach_stage_duration_seconds_sum', sum)).to.equal(2);
    });
  });
}

describe('readEvent', () => {
  const e = (kind: EventKind, code: string | null, runKind: string | null = null) => ({
    kind,
    stage: 'deploy',
    code,
    run_kind: runKind,
  });

  it('reads kind and code from their columns', () => {
    expect(readEvent(e('run_started', null, 'retry'))).to.deep.equal({ started: 'retry' });
    expect(readEvent(e('run_started', null, null))).to.deep.equal({ started: 'unknown' });
    expect(readEvent(e('run_started', null, 'nonsense'))).to.deep.equal({ started: 'unknown' });
    expect(readEvent(e('run_ended', 'worker_lost', 'execute'))).to.deep.equal({
      failed: 'worker_lost',
    });
    expect(readEvent(e('run_ended', null, 'execute'))).to.equal(null);
    const outcome = (code: string | null) => readEvent(e('stage_finished', code))?.stage?.outcome;
    expect([null, 'cancelled', 'stage_timeout'].map(outcome)).to.deep.equal([
      'ok',
      'cancelled',
      'failed',
    ]);
    expect(readEvent(e('stage_requeued', null))?.stage?.outcome).to.equal('requeued');
    expect(readEvent(e('status', 'health_check_failed'))).to.equal(null);
  });
});

describe('GET /metrics: history read in batches', function () {
  this.timeout(60_000);
  let h: Harness;

  before(async () => {
    h = await createHarness('postgres');
    const api = await serve(h.app);
    for (let i = 0; i < 3; i++) {
      const manifest = buildManifest({ target: { type: 'local', workdir: `targets/b${i}` } });
      await api.call('POST', '/api/v1/deployments', { manifest, execute: true });
    }
    await api.close();
  });

  after(async () => {
    await h?.close();
  });

  it('sees every event once across small batches and repeated reads', async () => {
    const seen: number[] = [];
    const feed = new HistoryFeed(h.db, (e) => seen.push(e.id), {
      batch: 2,
      maxBatches: 100,
      gapMs: 60_000,
    });
    await Promise.all([feed.catchUp(), feed.catchUp()]);
    await feed.catchUp();
    const ids = (await h.db('deployment_events').orderBy('id').pluck('id')).map(Number);
    expect(ids.length).to.be.above(4);
    expect(seen).to.deep.equal(ids);
  });

  it('steps over an id that never commits once the gap has been open long enough', async () => {
    const seen: number[] = [];
    const feed = new HistoryFeed(h.db, (e) => seen.push(e.id), {
      batch: 100,
      maxBatches: 10,
      gapMs: 50,
    });
    await feed.catchUp();
    const seq = "pg_get_serial_sequence('deployment_events', 'id')";
    await h.db.raw(`SELECT nextval(${seq})`); // an insert that rolled back
    const [deploymentId] = await h.db('deployments').pluck('id');
    await h.db('deployment_events').insert({
      deployment_id: deploymentId,
      to_status: 'pending',
      kind: 'run_started',
      message: 'retry',
      run_kind: 'retry',
      actor: 'test',
    });
    await feed.catchUp();
    await new Promise((r) => setTimeout(r, 80));
    await feed.catchUp();
    await feed.catchUp();
    expect(new Set(seen).size).to.equal(seen.length);
    const mark = (feed as unknown as { mark: number }).mark;
    expect(mark).to.equal(seen.at(-1));
  });
});

describe('GET /metrics: who may scrape', function () {
  this.timeout(60_000);
  let h: Harness;
  const servers: Server[] = [];
  const TOKEN = 'metrics-token-0123456789';

  before(async () => {
    h = await createHarness('postgres');
  });

  after(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    await h?.close();
  });

  /** Listens on `host`; returns the base URL. */
  async function listen(app: ReturnType<typeof createApp>, host: string): Promise<string> {
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, host, () => resolve(s));
    });
    servers.push(server);
    const { port } = server.address() as { port: number };
    return `http://${host}:${port}`;
  }

  it('without METRICS_TOKEN: loopback clients only', async function () {
    const local = await listen(appWith(h, {}), '127.0.0.1');
    expect((await fetch(`${local}/metrics`)).status).to.equal(200);
    const ip = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
    if (!ip) {
      this.skip(); // no non-loopback address on this machine
    }
    const remote = await listen(appWith(h, { ALLOWED_HOSTS: [ip!] }), ip!);
    const res = await fetch(`${remote}/metrics`);
    expect(res.status).to.equal(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).to.equal('forbidden');
  });

  it('with METRICS_TOKEN: that bearer token, and no other', async () => {
    const url = await listen(
      appWith(h, { METRICS_TOKEN: TOKEN, API_TOKEN: 'api-token-0123456789abc' }),
      '127.0.0.1',
    );
    const get = (authorization?: string) =>
      fetch(`${url}/metrics`, { headers: authorization ? { authorization } : {} });
    const none = await get();
    expect(none.status).to.equal(401);
    expect(none.headers.get('www-authenticate')).to.equal('Bearer');
    expect((await get('Bearer api-token-0123456789abc')).status).to.equal(401);
    expect((await get(`Bearer ${TOKEN}x`)).status).to.equal(401);
    const ok = await get(`Bearer ${TOKEN}`);
    expect(ok.status).to.equal(200);
    expect(await ok.text()).to.contain('# TYPE stagecoach_deployments gauge');
  });

  it('validates METRICS_TOKEN', () => {
    expect(() => parseConfig({ METRICS_TOKEN: 'short' })).to.throw(/METRICS_TOKEN/);
    const same = 'same-token-0123456789';
    expect(() => parseConfig({ METRICS_TOKEN: same, API_TOKEN: same })).to.throw(
      /METRICS_TOKEN: must differ/,
    );
    expect(parseConfig({ METRICS_TOKEN: TOKEN }).METRICS_TOKEN).to.equal(TOKEN);
  });
});
