/** Listing deployments newest first, with an opaque keyset cursor. */
import type { Db } from '../db.js';
import { isUuid, type DeploymentRow } from './deployments.js';

const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

export interface ListFilter {
  status?: string;
  scenario?: string;
  /** Last health state; only `deployed` deployments have a current one. */
  health?: string;
  limit: number;
  cursor?: string;
}

/** Decodes a cursor; null when it is not one we issued. */
export function decodeCursor(cursor: string): { createdAt: string; id: string } | null {
  try {
    const [createdAt, id] = JSON.parse(
      Buffer.from(cursor, 'base64url').toString('utf8'),
    ) as string[];
    if (
      typeof createdAt !== 'string' ||
      typeof id !== 'string' ||
      !CURSOR_TIME.test(createdAt) ||
      !isUuid(id)
    ) {
      return null;
    }
    return { createdAt, id };
  } catch {
    return null;
  }
}

function encodeCursor(row: DeploymentRow & { created_at_text: string }): string {
  return Buffer.from(JSON.stringify([row.created_at_text, row.id])).toString('base64url');
}

/** One page of live deployments and the cursor of the next page (null at the end). */
export async function listDeployments(
  db: Db,
  filter: ListFilter,
): Promise<{ rows: DeploymentRow[]; nextCursor: string | null }> {
  const query = db('deployments')
    .whereNull('deleted_at')
    // microsecond-exact text of created_at, so the cursor round-trips without loss
    .select(
      '*',
      db.raw(
        `to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as created_at_text`,
      ),
    )
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .limit(filter.limit + 1);
  if (filter.status) {
    query.andWhere({ status: filter.status });
  }
  if (filter.scenario) {
    query.andWhere({ scenario: filter.scenario });
  }
  if (filter.health) {
    query.andWhere({ status: 'deployed' }).andWhereRaw(`health->>'state' = ?`, [filter.health]);
  }
  if (filter.cursor) {
    const c = decodeCursor(filter.cursor);
    if (c) {
      query.andWhereRaw('(created_at, id) < (?::timestamptz, ?::uuid)', [c.createdAt, c.id]);
    }
  }
  const rows = (await query) as (DeploymentRow & { created_at_text: string })[];
  const page = rows.slice(0, filter.limit);
  const nextCursor = rows.length > filter.limit ? encodeCursor(page[page.length - 1]) : null;
  return { rows: page.map(({ created_at_text: _, ...r }) => r as DeploymentRow), nextCursor };
}

/** Ids of live `deployed` deployments with no active run: what the health watch checks. */
export async function listWatchedIds(db: Db): Promise<string[]> {
  const rows = (await db('deployments')
    .whereNull('deleted_at')
    .whereNull('run_kind')
    .andWhere({ status: 'deployed' })
    .select('id')) as { id: string }[];
  return rows.map((r) => r.id);
}
