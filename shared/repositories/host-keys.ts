/** SSH host keys trusted on first use, kept on the deployment. */
import type { Db } from '../db.js';

/** Records the fingerprint unless one is already recorded (the first one wins). */
export async function recordHostKey(
  db: Db,
  deploymentId: string,
  fingerprint: string,
): Promise<void> {
  await db('deployments')
    .where({ id: deploymentId })
    .whereNull('ssh_host_key')
    .update({ ssh_host_key: fingerprint });
}
