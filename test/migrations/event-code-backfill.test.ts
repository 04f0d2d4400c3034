/**
 * Migration 20261130000002: history rows written before it (kind and code only in `message`)
 * get `run_kind` and `code` from their messages, by the rules the readers parsed them with.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { migrationConfig } from '../../shared/db.js';
import { createDeployment } from '../../shared/repositories/deployments.js';
import { buildManifest } from '../factories.js';
import { createHarness, type Harness } from '../helpers/harness.js';

const NAME = '20261130000002_add_code_and_run_kind_to_deployment_events.ts';

/** [kind, stage, to_status, message] of an old row → its expected [run_kind, code]. */
const CASES: [string, string | null, string, string, string | null, string | null][] = [
  ['run_started', 'setup', 'pending', 'redeploy (setup)', 'redeploy', null],
  ['run_started', 'build', 'pending', 'execute', 'execute', null],
  ['run_started', 'build', 'pending', 'launch everything', null, null],
  [
    'run_ended',
    'deploy',
    'failed',
    'execute run failed: health_check_failed',
    'execute',
    'health_check_failed',
  ],
  ['run_ended', 'stop', 'stopped', 'stop run ended: stopped', 'stop', null],
  ['stage_finished', 'deploy', 'deploying', 'deploy failed: cancelled', null, 'cancelled'],
  [
    'stage_finished',
    'setup',
    'setup_running',
    'setup failed: stage_timeout (after 30 s)',
    null,
    'stage_timeout',
  ],
  ['stage_finished', null, 'pending', 'null failed: worker_lost', null, 'worker_lost'],
  ['stage_finished', 'build', 'pending', 'build complete', null, null],
  ['stage_finished', 'build', 'pending', 'deploy failed: elsewhere', null, null],
  ['status', 'deploy', 'failed', 'health_check: health_check_failed', null, 'health_check_failed'],
  ['status', null, 'pending', 'created', null, null],
  ['stage_started', 'build', 'pending', 'build failed: not an end', null, null],
];

describe('migration: code and run_kind on deployment_events', function () {
  this.timeout(60_000);
  let h: Harness;

  before(async () => {
    h = await createHarness('postgres');
  });

  after(async () => {
    await h?.close();
  });

  it('backfills rows of the old shape from their messages', async () => {
    const manifest = buildManifest({ target: { type: 'local', workdir: 'targets/mig' } });
    const { id: deploymentId } = await createDeployment(
      h.db,
      {
        name: 'hello-web',
        scenario: 'hello-web',
        manifest: manifest as unknown as Record<string, unknown>,
        target_key: 'local:targets/mig',
        edge_key: null,
      },
      'test',
    );
    const [{ schema }] = (await h.db.raw('select current_schema() as schema')).rows;
    const config = { ...migrationConfig(schema as string), name: NAME };
    await h.db.migrate.down(config);
    expect(await h.db.schema.hasColumn('deployment_events', 'code')).to.equal(false);
    expect(await h.db.schema.hasColumn('deployment_events', 'run_kind')).to.equal(false);

    const rows = CASES.map(([kind, stage, to, message]) => ({
      deployment_id: deploymentId,
      run_id: randomUUID(),
      kind,
      stage,
      from_status: to,
      to_status: to,
      message,
      actor: 'test',
    }));
    const inserted = (await h.db('deployment_events').insert(rows).returning('id')) as {
      id: string;
    }[];

    await h.db.migrate.up(config);
    const got = (await h
      .db('deployment_events')
      .whereIn(
        'id',
        inserted.map((r) => r.id),
      )
      .orderBy('id')
      .select('message', 'run_kind', 'code')) as {
      message: string;
      run_kind: string | null;
      code: string | null;
    }[];
    expect(got.map((r) => [r.message, r.run_kind, r.code])).to.deep.equal(
      CASES.map((c) => [c[3], c[4], c[5]]),
    );
  });
});
