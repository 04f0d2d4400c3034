/** What must hold for every deployment once the dust of a fault has settled. */
import { expect } from 'chai';
import { canTransition, isStatus } from '../../shared/status.js';
import type { HistoryEvent } from './client.js';
import type { Cluster } from './cluster.js';

/** The history's problems: illegal edges, a bad first event, runs started twice or not ended once. */
export function historyProblems(events: HistoryEvent[]): string[] {
  const problems: string[] = [];
  const statusEvents = events.filter((e) => (e.kind ?? 'status') === 'status');
  const first = statusEvents[0];
  if (!first || first.from_status !== null || first.to_status !== 'pending') {
    problems.push(`first status event is not null → pending: ${JSON.stringify(first)}`);
  }
  for (const e of statusEvents.slice(1)) {
    const legal =
      e.from_status !== null &&
      isStatus(e.from_status) &&
      isStatus(e.to_status) &&
      canTransition(e.from_status, e.to_status);
    if (!legal) {
      problems.push(`illegal edge ${e.from_status} → ${e.to_status} (${e.message})`);
    }
  }
  for (const e of events.filter((x) => (x.kind ?? 'status') !== 'status')) {
    if (e.from_status !== e.to_status) {
      problems.push(`${e.kind} event changes status ${e.from_status} → ${e.to_status}`);
    }
  }
  const started = events.filter((e) => e.kind === 'run_started').map((e) => e.run_id);
  const dupes = started.filter((id, i) => started.indexOf(id) !== i);
  if (dupes.length) {
    problems.push(`run_started twice for run ${[...new Set(dupes)].join(', ')}`);
  }
  // a run cannot get lost: each one that started ended, once
  for (const runId of new Set(started)) {
    const ended = events.filter((e) => e.kind === 'run_ended' && e.run_id === runId).length;
    if (ended !== 1) {
      problems.push(`run ${runId} ended ${ended} times`);
    }
  }
  return problems;
}

/** Events of one kind (e.g. `stage_started`) in a run. */
export const eventsOf = (events: HistoryEvent[], kind: string, runId?: string | null) =>
  events.filter((e) => e.kind === kind && (runId === undefined || e.run_id === runId));

/**
 * Each deployment ended in `expected` (one status for all, or per id) with no active run and a
 * legal history; and no live deployment row of the cluster's database is still in a run.
 */
export async function expectSettled(
  c: Cluster,
  ids: string[],
  expected: string | Record<string, string> = 'deployed',
): Promise<void> {
  for (const id of ids) {
    const want = typeof expected === 'string' ? expected : expected[id];
    const d = await c.api.get(id);
    const events = await c.api.history(id);
    const where = `deployment ${id}: ${JSON.stringify(d)}\nhistory: ${JSON.stringify(events)}`;
    expect(d?.status, `terminal status of ${where}\n${c.logs()}`).to.equal(want);
    expect(d?.run_active, `run_active of ${where}`).to.equal(false);
    expect(historyProblems(events), where).to.deep.equal([]);
  }
  // every live row, through the API's own notion of an active run
  const rows: { id: string }[] = await c.db('deployments').whereNull('deleted_at').select('id');
  const active: string[] = [];
  for (const { id } of rows) {
    const d = await c.api.get(id);
    if (!d || d.run_active) {
      active.push(`${id}: ${JSON.stringify(d)}`);
    }
  }
  expect(active, 'deployments still in a run (or unreadable)').to.deep.equal([]);
  for (const id of ids) {
    const d = await c.api.get(id);
    expect(d?.run_kind, `run_kind (contract field) of ${JSON.stringify(d)}`).to.equal(null);
  }
  // and in the rows themselves: run_kind is non-null exactly while a run is active
  if (await c.db.schema.hasColumn('deployments', 'run_kind')) {
    const open = await c.db('deployments').whereNull('deleted_at').whereNotNull('run_kind');
    expect(
      open.map((r: { id: string; run_kind: string }) => `${r.id}: ${r.run_kind}`),
      'rows with an active run (run_kind set)',
    ).to.deep.equal([]);
  }
}
