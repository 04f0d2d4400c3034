/** A worker frozen mid-stage (SIGSTOP) loses its lease; when it wakes it must write nothing. */
import path from 'node:path';
import { expect } from 'chai';
import { startCluster, type Cluster } from './cluster.js';
import { expectSettled } from './invariants.js';
import { holderOfSleep, markerLines } from './probes.js';
import { signal, waitForLog } from './procs.js';
import { manifestFor, markedStart, sleepArg, writeScenario } from './scenarios.js';

const LOST_LEASE = /lost the lease|lease (was )?(lost|expired)/i;

describe('faults: a frozen worker (SIGSTOP)', function () {
  this.timeout(120_000);
  let c: Cluster;

  before(async () => {
    c = await startCluster({ backend: 'redis', workers: 1 });
  });
  after(async () => {
    await c?.close();
  });

  it('another worker finishes the run; the woken worker starts nothing', async () => {
    const marker = path.join(c.dataDir, 'started-sigstop');
    const arg = sleepArg(5);
    const scenario = await writeScenario(c.scenariosDir, 'frozen', {
      build: `sleep ${arg}`,
      start: markedStart(marker),
    });
    const { id } = await c.api.create(await manifestFor(scenario));
    const frozen = await holderOfSleep(c, arg, 40_000);
    signal(frozen, 'SIGSTOP');
    try {
      await c.addWorker();
      // the stale worker's lock and lease expire; the new worker takes the stage over
      await c.api.waitFor(id, ['deployed'], 60_000);
      expect(markerLines(marker), 'service starts before the wake-up').to.equal(1);
    } finally {
      signal(frozen, 'SIGCONT');
    }
    const noticed = await waitForLog(frozen.logFile, LOST_LEASE, 20_000).catch((e: Error) => e);
    const d = await c.api.waitFor(id, ['deployed'], 10_000);
    expect(d.error_code).to.equal(null);
    expect(markerLines(marker), 'service starts after the wake-up').to.equal(1);
    await expectSettled(c, [id]);
    expect(noticed, 'the woken worker logged that it lost its lease').to.equal(true);
  });
});
