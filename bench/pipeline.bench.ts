/**
 * Pipeline benchmark: execute → deployed of examples/hello-web on a local target, measured
 * through the HTTP API with real workers. Ratios in the same run, no asserts (rows() gives
 * `npm run bench` the re-deploy row, Redis only; the standalone run prints every ratio):
 * - PostgreSQL queue backend vs Redis backend (baseline: Redis) for a first deployment;
 * - re-deploy (bundle set up on the target) and re-execute (cache hit, setup skipped) vs first.
 * Run: npx tsx bench/pipeline.bench.ts [rounds]
 */
import type { Knex } from 'knex';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildManifest } from '../test/factories.js';
import { createHarness, type BackendKind } from '../test/helpers/harness.js';
import { serve, type ApiClient } from '../test/helpers/http.js';
import { freePort } from '../test/helpers/ports.js';
import { atMost, printTable, type BenchRow } from './table.js';

const ms = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;
/** Median of a sample. */
export const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const POLL_MS = 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Time from the action's POST until the deployment is `deployed` (ms). With `db`, the row is
 * read every 10 ms (what GET /deployments/:id would show at that instant; the API client's
 * 150 ms polls add up to 150 ms to every figure and pull the ratios toward 1), and the inspect
 * that follows a deploy is waited out, so the next action starts on a quiet target rather than
 * racing it for the CPU.
 */
export async function timedAction(
  api: ApiClient,
  id: string,
  action: string,
  db?: Knex,
): Promise<number> {
  const start = process.hrtime.bigint();
  const res = await api.call('POST', `/api/v1/deployments/${id}/${action}`, {});
  if (res.status !== 202) {
    throw new Error(`${action}: ${JSON.stringify(res.body)}`);
  }
  if (!db) {
    const d = await api.waitFor(id, ['deployed', 'failed']);
    if (d.status !== 'deployed') {
      throw new Error(`${action} ended ${d.status}: ${d.error_message}`);
    }
    return ms(start);
  }
  const deadline = Date.now() + 60_000;
  for (;;) {
    const d = await db('deployments')
      .where({ id })
      .first('status', 'run_kind', 'error_message', 'last_deployed_at');
    if (d.run_kind === null && (d.status === 'deployed' || d.status === 'failed')) {
      if (d.status !== 'deployed') {
        throw new Error(`${action} ended ${d.status}: ${d.error_message}`);
      }
      const took = ms(start);
      await quiet(db, id, d.last_deployed_at as Date);
      return took;
    }
    if (Date.now() > deadline) {
      throw new Error(`${action}: not deployed after 60 s (status ${d.status})`);
    }
    await sleep(POLL_MS);
  }
}

/** Waits (at most 10 s) for the inspect that follows the deploy at `deployedAt`. */
async function quiet(db: Knex, id: string, deployedAt: Date): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const d = await db('deployments').where({ id }).first('last_inspected_at');
    if (d.last_inspected_at && new Date(d.last_inspected_at) >= deployedAt) {
      return;
    }
    await sleep(POLL_MS);
  }
}

/** One backend: first deploy, re-deploy and re-execute times (ms, medians over rounds). */
async function measure(kind: BackendKind, rounds: number) {
  const h = await createHarness(kind);
  h.startWorkers();
  const api = await serve(h.app);
  const first: number[] = [];
  const redeploy: number[] = [];
  const reexecute: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const manifest = buildManifest({
        ports: { web: await freePort() },
        target: { type: 'local', workdir: `targets/bench-${i}` },
      });
      const id = (await api.call('POST', '/api/v1/deployments', { manifest })).body.deployment.id;
      first.push(await timedAction(api, id, 'execute', h.db));
      redeploy.push(await timedAction(api, id, 'redeploy', h.db));
      reexecute.push(await timedAction(api, id, 'execute', h.db));
      await api.call('POST', `/api/v1/deployments/${id}/stop`, {});
      await api.waitFor(id, ['stopped']);
    }
  } finally {
    await api.close();
    await h.close();
  }
  return { first: median(first), redeploy: median(redeploy), reexecute: median(reexecute) };
}

/** The row: re-deploy of an unchanged bundle vs first deploy (Redis backend). */
export async function rows(rounds = 5): Promise<BenchRow[]> {
  const redis = await measure('redis', rounds);
  return [redeployRow(redis, rounds)];
}

function redeployRow(m: { first: number; redeploy: number }, rounds: number): BenchRow {
  return atMost(
    're-deploy of an unchanged bundle vs first deploy (hello-web)',
    m.redeploy / m.first,
    0.4,
    `${m.redeploy.toFixed(0)} ms vs ${m.first.toFixed(0)} ms, Redis, median of ${rounds}`,
  );
}

/** Runs both backends and prints every ratio as one table. */
export async function main(rounds = 5): Promise<void> {
  const redis = await measure('redis', rounds);
  const pg = await measure('postgres', rounds);
  const info = (figure: string, v: number, base: number, detail: string): BenchRow => ({
    figure,
    ratio: v / base,
    detail: `${v.toFixed(0)} ms vs ${base.toFixed(0)} ms, ${detail}, median of ${rounds}`,
    target: '',
    met: true,
  });
  printTable([
    redeployRow(redis, rounds),
    info('first deploy, PostgreSQL backend vs Redis backend', pg.first, redis.first, 'hello-web'),
    info('re-execute (cached) vs first deploy, Redis', redis.reexecute, redis.first, 'hello-web'),
    info('re-deploy vs first deploy, PostgreSQL', pg.redeploy, pg.first, 'hello-web'),
    info('re-execute (cached) vs first deploy, PostgreSQL', pg.reexecute, pg.first, 'hello-web'),
  ]);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  await main(Number(process.argv[2]) || 5);
  process.exit(0);
}
