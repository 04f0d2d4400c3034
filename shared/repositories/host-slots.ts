/**
 * Slots of work per target host, shared by every worker process: a mutating stage holds one
 * (under its lease token, renewed with the lease) while it changes the host.
 */
import type { Db } from '../db.js';
import { dbNowPlus } from './run-write.js';

/** Takes a free (or expired) slot of `host`; true when one of the `slots` is now ours. */
export async function tryTakeSlot(
  db: Db,
  host: string,
  slots: number,
  token: string,
  leaseMs: number,
): Promise<boolean> {
  for (let slot = 0; slot < slots; slot++) {
    const taken = await db.raw(
      `insert into host_slots (host, slot, token, expires_at) values (?, ?, ?, ?)
       on conflict (host, slot) do update set token = excluded.token, expires_at = excluded.expires_at
       where host_slots.expires_at < now() or host_slots.token = excluded.token
       returning slot`,
      [host, slot, token, dbNowPlus(db, leaseMs)],
    );
    if ((taken as { rows: unknown[] }).rows.length) {
      return true;
    }
  }
  return false;
}

/** Gives back every slot held under `token`. */
export async function releaseSlots(db: Db, token: string): Promise<void> {
  await db('host_slots').where({ token }).del();
}
