/** Redis or PostgreSQL restarted mid-run: the run still ends deployed; the API never hangs. */
import { expect } from 'chai';
import { startCluster, type Cluster } from './cluster.js';
import { expectSettled } from './invariants.js';
import { holderOfSleep } from './probes.js';
import { sleep } from './procs.js';
import { manifestFor, sleepArg, sleepOnce, writeScenario } from './scenarios.js';

interface Server {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** A deployment whose build step (deploy stage) runs long enough to take a server away. */
async function slowDeployment(c: Cluster): Promise<{ id: string; arg: string }> {
  const arg = sleepArg(4);
  const scenario = await writeScenario(c.scenariosDir, 'outage', {
    build: sleepOnce(c.dataDir, arg),
  });
  const { id } = await c.api.create(await manifestFor(scenario));
  await holderOfSleep(c, arg, 40_000);
  return { id, arg };
}

describe('faults: Redis restarted mid-run', function () {
  this.timeout(120_000);
  let redis: Server | undefined;
  let c: Cluster | undefined;

  before(async () => {
    const { startThrowawayRedis } = await import('../helpers/throwaway-redis.js');
    redis = await startThrowawayRedis();
    c = await startCluster({ backend: 'redis', workers: 2, redisUrl: redis.url });
  });
  after(async () => {
    await c?.close();
    await redis?.close();
  });

  it('down ~6 s (and empty when it comes back): the run ends deployed, error_code null', async () => {
    const cl = c as Cluster;
    const { id } = await slowDeployment(cl);
    await redis?.stop();
    await sleep(3_000);
    const during = await cl.api.call('GET', `/deployments/${id}`, undefined, 6_000);
    expect(during.status, 'reads need only PostgreSQL').to.equal(200);
    // the job of a new run is an outbox row in the same transaction: creating needs no Redis
    const manifest = await manifestFor();
    const created = await cl.api.call('POST', '/deployments', { manifest, execute: true }, 6_000);
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    expect(created.ms).to.be.below(5_000);
    await sleep(3_000);
    await redis?.start();
    const ids = [id, created.body.deployment.id as string];
    for (const each of ids) {
      const d = await cl.api.waitFor(each, ['deployed'], 60_000);
      expect(d.error_code, JSON.stringify(d)).to.equal(null);
    }
    await expectSettled(cl, ids);
  });
});

describe('faults: PostgreSQL restarted mid-run', function () {
  this.timeout(120_000);
  let pg: Server | undefined;
  let c: Cluster | undefined;

  before(async () => {
    const { startThrowawayPg } = await import('../helpers/throwaway-pg.js');
    pg = await startThrowawayPg();
    c = await startCluster({ backend: 'redis', workers: 2, databaseUrl: pg.url });
  });
  after(async () => {
    await c?.close();
    await pg?.close();
  });

  it('down ~6 s: the API answers 503 unavailable within 5 s; the run ends deployed', async () => {
    const cl = c as Cluster;
    const { id } = await slowDeployment(cl);
    await pg?.stop();
    const outageEnds = Date.now() + 6_000;
    for (const path of ['/deployments', `/deployments/${id}`, '/deployments']) {
      // a hung request shows as an abort after 6 s, not as a hung test
      const r = await cl.api.call('GET', path, undefined, 6_000);
      expect(r.ms, `GET ${path} answered in ${r.ms} ms`).to.be.below(5_000);
      expect([r.status, r.body?.error?.code], `GET ${path}`).to.deep.equal([503, 'unavailable']);
    }
    await sleep(Math.max(0, outageEnds - Date.now()));
    await pg?.start();
    const d = await cl.api.waitFor(id, ['deployed'], 60_000);
    expect(d.error_code, JSON.stringify(d)).to.equal(null);
    await expectSettled(cl, [id]);
  });
});
