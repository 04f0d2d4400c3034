/** Log retention: exactly the newest LOG_KEEP_RUNS runs' rows stay, per deployment. */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { buildManifest } from '../../factories.js';
import { createHarness, type Harness } from '../../helpers/harness.js';
import { appendLogs } from '../../../shared/repositories/logs.js';
import { pruneLogs } from '../../../shared/repositories/log-retention.js';
import { startHousekeeping } from '../../../workers/housekeeping.js';
import { createDeployment } from '../../../shared/repositories/deployments.js';

describe('shared/repositories/log-retention', function () {
  this.timeout(60_000);
  let h: Harness;
  let n = 0;

  before(async () => {
    h = await createHarness('postgres', { LOG_KEEP_RUNS: '3', LOG_PRUNE_SECONDS: '1' });
  });

  after(async () => {
    await h?.close();
  });

  async function deployment(): Promise<string> {
    n += 1;
    const d = await createDeployment(
      h.db,
      {
        name: `lr${n}`,
        scenario: 'hello-web',
        manifest: buildManifest({ target: { type: 'local', workdir: `targets/lr${n}` } }),
        target_key: `local:lr${n}`,
        edge_key: null,
      },
      'test',
    );
    return d.id;
  }

  /** `runs` runs of `rows` rows each, oldest first; returns the run ids. */
  async function seed(id: string, runs: number, rows: number): Promise<string[]> {
    const ids: string[] = [];
    for (let r = 0; r < runs; r++) {
      const runId = randomUUID();
      ids.push(runId);
      await appendLogs(
        h.db,
        Array.from({ length: rows }, (_, i) => ({
          deployment_id: id,
          run_id: runId,
          stage: 'build',
          step: 'bundle',
          stream: 'stdout' as const,
          chunk: `run ${r} line ${i}\n`,
        })),
      );
    }
    return ids;
  }

  const runsLeft = async (id: string) =>
    (
      (await h
        .db('deployment_logs')
        .where({ deployment_id: id })
        .groupBy('run_id')
        .select('run_id', h.db.raw('count(*)::int as n'))) as { run_id: string | null; n: number }[]
    ).reduce<Record<string, number>>((acc, r) => ({ ...acc, [String(r.run_id)]: r.n }), {});

  it('keeps exactly the newest N runs of each deployment, in bounded batches', async () => {
    const a = await deployment();
    const b = await deployment();
    const runsA = await seed(a, 6, 7);
    const runsB = await seed(b, 2, 3);
    // a row without a run is not a run's output: left alone
    await appendLogs(h.db, [
      { deployment_id: a, run_id: null, stage: 'inspect', step: 'x', stream: 'stdout', chunk: 'x' },
    ]);
    // an older run that wrote again last counts as recent (ranked by its newest row)
    await appendLogs(h.db, [
      {
        deployment_id: a,
        run_id: runsA[0]!,
        stage: 'deploy',
        step: 'y',
        stream: 'stderr',
        chunk: 'y',
      },
    ]);

    const deleted = await pruneLogs(h.db, 3, 4);
    expect(deleted).to.equal(3 * 7);
    expect(await runsLeft(a)).to.deep.equal({
      [runsA[0]!]: 8,
      [runsA[4]!]: 7,
      [runsA[5]!]: 7,
      null: 1,
    });
    expect(await runsLeft(b)).to.deep.equal({ [runsB[0]!]: 3, [runsB[1]!]: 3 });
    expect(await pruneLogs(h.db, 3, 4)).to.equal(0);
  });

  it('runs on its own in the workers (LOG_PRUNE_SECONDS, LOG_KEEP_RUNS)', async () => {
    const c = await deployment();
    const runs = await seed(c, 5, 2);
    const loops = startHousekeeping(h.ctx);
    try {
      const deadline = Date.now() + 10_000;
      while (Object.keys(await runsLeft(c)).length > 3 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await loops.stop();
    }
    expect(await runsLeft(c)).to.deep.equal({ [runs[2]!]: 2, [runs[3]!]: 2, [runs[4]!]: 2 });
  });
});
