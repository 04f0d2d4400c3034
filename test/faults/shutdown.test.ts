/** SIGTERM to the process group of `npm run worker` mid-stage: the stage is handed back. */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { startCluster, type Cluster } from './cluster.js';
import { expectSettled } from './invariants.js';
import { holderOfSleep, markerLines } from './probes.js';
import { sleep, waitForLog } from './procs.js';
import { manifestFor, markedStart, sleepArg, sleepOnce, writeScenario } from './scenarios.js';

const GRACE_S = 2;

describe('faults: graceful shutdown of a worker group (redis queues)', function () {
  this.timeout(120_000);
  let c: Cluster;

  before(async () => {
    c = await startCluster({
      backend: 'redis',
      workers: 0,
      env: { SHUTDOWN_GRACE_SECONDS: String(GRACE_S) },
    });
  });
  after(async () => {
    await c?.close();
  });

  it('hands a stage longer than the grace back; another worker ends the run deployed', async () => {
    const marker = path.join(c.dataDir, 'started-shutdown');
    const arg = sleepArg(20); // far longer than the grace; only the first attempt sleeps
    const scenario = await writeScenario(c.scenariosDir, 'long-step', {
      build: sleepOnce(c.dataDir, arg),
      start: markedStart(marker),
    });
    const npmWorker = await c.addWorker({ npm: true });
    const { id } = await c.api.create(await manifestFor(scenario));
    expect(await holderOfSleep(c, arg, 40_000)).to.equal(npmWorker);
    await c.addWorker();

    const signalled = Date.now();
    const logFrom = statSync(npmWorker.logFile).size;
    await c.kill(npmWorker, 'SIGTERM'); // the whole group: npm, sh, tsx and node each get it
    const limitMs = (GRACE_S + 5) * 1000;
    const exit = Promise.race([npmWorker.exited, sleep(limitMs).then(() => 'still running')]);
    const stopped = waitForLog(npmWorker.logFile, /"msg":"stopped"/, limitMs, logFrom).catch(
      (err: Error) => err.message,
    );

    const d = await c.api.waitFor(id, ['deployed'], 60_000);
    expect(d.error_code, JSON.stringify(d)).to.equal(null);
    const events = await c.api.history(id);
    const lost = events.filter((e) => /worker_lost/.test(`${e.message}`));
    expect(lost, 'no worker_lost in the history').to.deep.equal([]);
    expect(markerLines(marker), 'service starts').to.equal(1);
    await expectSettled(c, [id]);

    // the node worker itself shut down in order, counting the group's signals as one
    expect(await stopped, `worker log after SIGTERM\n${c.logs()}`).to.equal(true);
    const log = readFileSync(npmWorker.logFile, 'utf8').slice(logFrom);
    expect(log).to.not.match(/second signal/);
    // and `npm run worker` exits 0 (npm dies of the signal when its `sh -c` does: no `exec`)
    const code = await exit;
    console.log(`      npm run worker: ${JSON.stringify(code)} ${Date.now() - signalled} ms`);
    expect(code, `npm run worker within ${limitMs} ms`).to.deep.equal({ code: 0, signal: null });
  });
});
