/**
 * Webhook delivery against a real receiver: queued in the status change's transaction, signed
 * (verified here independently), retried with backoff, filtered per deployment, stopped by
 * delete; health changes too; and a real deploy's status changes arrive signed and in order.
 */
import { expect } from 'chai';
import { rm } from 'node:fs/promises';
import { buildManifest } from '../factories.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { serve, type ApiClient } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { copyExample } from '../helpers/scenario-dir.js';
import {
  startReceiver,
  verifySignature,
  type Receiver,
  type Received,
} from '../helpers/webhook-receiver.js';
import { findDeployment } from '../../shared/repositories/deployments.js';
import { lockRow, writeRun } from '../../shared/repositories/run-write.js';
import type { Status } from '../../shared/status.js';
import { recordHealth } from '../../workers/health-watch.js';

const BACKOFF_MS = 300;

describe('workers: webhook delivery', function () {
  this.timeout(90_000);
  let h: Harness;
  let api: ApiClient;
  let rx: Receiver;
  let scenarios: string;
  let workdirs = 0;
  const deployed: string[] = [];

  before(async () => {
    scenarios = await copyExample('hello-web');
    h = await createHarness('postgres', {
      SCENARIOS_DIR: scenarios,
      WEBHOOK_POLL_MS: '50',
      WEBHOOK_BACKOFF_MS: String(BACKOFF_MS),
      WEBHOOK_TIMEOUT_MS: '2000',
      WEBHOOK_MAX_ATTEMPTS: '3',
    });
    api = await serve(h.app);
    rx = await startReceiver();
  });

  after(async () => {
    for (const id of deployed) {
      await api.call('POST', `/api/v1/deployments/${id}/stop`, {});
      await api.waitFor(id, ['stopped', 'failed'], 20_000).catch(() => undefined);
    }
    await api?.close();
    await h?.close();
    await rx?.close();
    await rm(scenarios, { recursive: true, force: true });
  });

  async function deployment(): Promise<string> {
    const manifest = buildManifest({
      target: { type: 'local', workdir: `targets/wh${++workdirs}` },
      ports: { web: await freePort() },
    });
    const res = await api.call('POST', '/api/v1/deployments', { manifest });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body.deployment.id as string;
  }

  async function webhook(path: string, deploymentId?: string) {
    const res = await api.call('POST', '/api/v1/webhooks', {
      url: `${rx.url}${path}`,
      ...(deploymentId ? { deployment_id: deploymentId } : {}),
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body.webhook as { id: string; secret: string };
  }

  /** A status write through the repository (the one path every status change takes). */
  async function setStatus(id: string, to: Status, patch: Record<string, unknown> = {}) {
    await h.db.transaction(async (trx) => {
      const current = await lockRow(trx, id);
      const row = await writeRun(trx, current!, () => undefined, {
        to,
        patch,
        events: [],
        stage: null,
        actor: 'test',
      });
      expect(row).not.to.equal(null);
    });
  }

  const deliveries = async (webhookId: string) =>
    (await api.call('GET', `/api/v1/webhooks/${webhookId}/deliveries`)).body.deliveries;

  it('queues the delivery in the status change transaction (none on rollback), sent once a worker runs', async () => {
    const id = await deployment();
    const w = await webhook('/durable', id);
    await h.db
      .transaction(async (trx) => {
        const current = await lockRow(trx, id);
        await writeRun(trx, current!, () => undefined, {
          to: 'failed',
          patch: {},
          events: [],
          stage: null,
          actor: 'test',
        });
        throw new Error('rolled back');
      })
      .catch(() => undefined);
    expect(await h.db('webhook_deliveries').where({ webhook_id: w.id })).to.have.length(0);

    // no worker yet: as after a crash right after the commit, the row waits
    await setStatus(id, 'failed', { error_code: 'build_failed' });
    const [pending] = await deliveries(w.id);
    expect(pending).to.include({ event: 'deployment.status', status: 'pending', attempts: 0 });

    h.startWorkers();
    const [got] = await rx.waitFor('/durable', 1);
    expect(
      verifySignature(got!.headers['x-stagecoach-signature'] as string, got!.raw, w.secret),
    ).to.equal(true);
    expect(
      verifySignature(got!.headers['x-stagecoach-signature'] as string, got!.raw, 'whsec_x'),
    ).to.equal(false);
    expect(got!.headers['content-type']).to.equal('application/json');
    const body = JSON.parse(got!.raw);
    expect(body).to.deep.include({
      event: 'deployment.status',
      deployment_id: id,
      from: 'pending',
      to: 'failed',
      error_code: 'build_failed',
    });
    expect(new Date(body.at).getTime()).to.be.closeTo(Date.now(), 30_000);
    await waitUntil(async () => (await deliveries(w.id))[0].status === 'delivered');
    const [done] = await deliveries(w.id);
    expect(done).to.include({ status_code: 200, attempts: 1, last_error: null });
    expect(done.delivered_at).to.be.a('string');
  });

  it('retries a receiver that answers 500 twice: 3 attempts recorded, with backoff', async () => {
    const id = await deployment();
    const w = await webhook('/flaky', id);
    rx.answer('/flaky', (n) => (n < 2 ? 500 : 200));
    await setStatus(id, 'failed');
    const got = await rx.waitFor('/flaky', 3);
    await waitUntil(async () => (await deliveries(w.id))[0].status === 'delivered');
    const [d] = await deliveries(w.id);
    expect(d).to.include({ status: 'delivered', attempts: 3, status_code: 200, last_error: null });
    expect(d.attempt_log.map((a: { status_code: number }) => a.status_code)).to.deep.equal([
      500, 500, 200,
    ]);
    expect(d.attempt_log[0].error).to.equal('HTTP 500');
    // the same body each time, freshly signed each time
    expect(new Set(got.map((r) => r.raw)).size).to.equal(1);
    for (const r of got) {
      expect(
        verifySignature(r.headers['x-stagecoach-signature'] as string, r.raw, w.secret),
      ).to.equal(true);
    }
    const gap1 = got[1]!.at - got[0]!.at;
    const gap2 = got[2]!.at - got[1]!.at;
    expect(gap1).to.be.at.least(BACKOFF_MS - 20);
    expect(gap2).to.be.at.least(2 * BACKOFF_MS - 20);
  });

  it('marks a delivery failed after WEBHOOK_MAX_ATTEMPTS; never follows a redirect', async () => {
    const id = await deployment();
    const w = await webhook('/moved', id);
    rx.answer('/moved', () => 302);
    await setStatus(id, 'failed');
    await rx.waitFor('/moved', 3);
    await waitUntil(async () => (await deliveries(w.id))[0].status === 'failed');
    const [d] = await deliveries(w.id);
    expect(d).to.include({ attempts: 3, status_code: 302 });
    expect(d.last_error).to.equal('redirect not followed (HTTP 302)');
    expect(d.next_attempt_at).to.equal(null);
    await sleep(3 * BACKOFF_MS);
    expect(rx.on('/moved')).to.have.length(3);
  });

  it('stops delivering once the webhook is deleted', async () => {
    const id = await deployment();
    const w = await webhook('/gone', id);
    rx.answer('/gone', () => 500);
    await setStatus(id, 'failed');
    await rx.waitFor('/gone', 1);
    expect((await api.call('DELETE', `/api/v1/webhooks/${w.id}`)).status).to.equal(204);
    await setStatus(id, 'pending');
    await sleep(4 * BACKOFF_MS);
    expect(rx.on('/gone')).to.have.length(1);
    expect(await h.db('webhook_deliveries').where({ webhook_id: w.id })).to.have.length(0);
  });

  it('sends a deployment its own webhooks and the global ones, not other deployments’', async () => {
    const a = await deployment();
    const b = await deployment();
    const global = await webhook('/all');
    await webhook('/only-a', a);
    await setStatus(b, 'failed');
    await setStatus(a, 'failed');
    const all = await rx.waitFor('/all', 2);
    const onlyA = await rx.waitFor('/only-a', 1);
    await sleep(300);
    expect(rx.on('/only-a')).to.have.length(1);
    expect(JSON.parse(onlyA[0]!.raw).deployment_id).to.equal(a);
    expect(all.map((r) => JSON.parse(r.raw).deployment_id).sort()).to.deep.equal([a, b].sort());
    await api.call('DELETE', `/api/v1/webhooks/${global.id}`);
  });

  it('reports health state changes, not repeated verdicts', async () => {
    const id = await deployment();
    const w = await webhook('/health', id);
    const check = async (state: 'healthy' | 'down') => {
      const d = await findDeployment(h.db, id);
      await recordHealth(h.ctx, d!, { state, checked_at: new Date().toISOString(), services: [] });
    };
    await check('down');
    await check('down');
    await check('healthy');
    const got = byDelivery(await rx.waitFor('/health', 2));
    await sleep(300);
    expect(rx.on('/health')).to.have.length(2);
    const bodies = got.map((r) => JSON.parse(r.raw));
    expect(bodies.map((b) => [b.event, b.from, b.to])).to.deep.equal([
      ['deployment.health', null, 'down'],
      ['deployment.health', 'down', 'healthy'],
    ]);
    expect(
      verifySignature(got[1]!.headers['x-stagecoach-signature'] as string, got[1]!.raw, w.secret),
    ).to.equal(true);
  });

  it('delivers every status change of a real deploy, signed, in order', async () => {
    const id = await deployment();
    deployed.push(id);
    const w = await webhook('/deploy', id);
    const exec = await api.call('POST', `/api/v1/deployments/${id}/execute`, {});
    expect(exec.status).to.equal(202);
    const d = await api.waitFor(id, ['deployed', 'failed']);
    expect(d.status, JSON.stringify(d.error_message)).to.equal('deployed');
    // a retry can overtake later deliveries: receivers order by the delivery id. The inspect
    // after the deploy may add its first health verdict (deployment.health) at any moment.
    await waitUntil(async () => statusOnly(rx.on('/deploy')).length >= 4, 15_000);
    const got = statusOnly(byDelivery(rx.on('/deploy')));
    const bodies = got.map((r) => JSON.parse(r.raw));
    expect(bodies.map((b) => `${b.from}→${b.to}`)).to.deep.equal([
      'pending→setup_running',
      'setup_running→setup_complete',
      'setup_complete→deploying',
      'deploying→deployed',
    ]);
    for (const [i, r] of got.entries()) {
      expect(
        verifySignature(r.headers['x-stagecoach-signature'] as string, r.raw, w.secret),
      ).to.equal(true);
      expect(bodies[i].run_id).to.equal(exec.body.run_id);
    }
  });
});

/** The deployment.status deliveries of `list`. */
const statusOnly = (list: Received[]) =>
  list.filter((r) => (JSON.parse(r.raw) as { event: string }).event === 'deployment.status');

/** Requests in delivery id order (the order of the changes). */
const byDelivery = (list: Received[]) =>
  [...list].sort(
    (x, y) =>
      Number(x.headers['x-stagecoach-delivery']) - Number(y.headers['x-stagecoach-delivery']),
  );

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error('condition not met in time');
    }
    await sleep(50);
  }
}
