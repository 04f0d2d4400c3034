/**
 * Secrets reach the target at deploy time, never in the bundle: opened from their sealed
 * column, written to `state/secrets.env` (0600) that manage.sh reads as data.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { StepError } from '../../shared/errors.js';
import type { DeploymentRow } from '../../shared/repositories/deployments.js';
import { shellEnvFile } from '../../shared/shell.js';
import type { Transport } from '../../shared/transports/types.js';
import type { StageContext } from '../context.js';
import type { StageRecorder } from '../recorder.js';
import { runChecked } from '../remote.js';

/** Where the target keeps the secrets file (relative to its workdir). */
export const SECRETS_FILE = 'state/secrets.env';

/** The deployment's secrets in clear (none: {}); a deployment with secrets needs the key. */
export function openSecrets(ctx: StageContext, d: DeploymentRow): Record<string, string> {
  const sealed = d.secrets ?? {};
  if (Object.keys(sealed).length === 0) {
    return {};
  }
  if (!ctx.secrets) {
    throw new StepError(
      'secrets',
      'secrets_unavailable',
      'this deployment has secrets but the worker has no STAGECOACH_SECRET_KEY (or key file) to open them',
    );
  }
  const box = ctx.secrets;
  try {
    return Object.fromEntries(Object.entries(sealed).map(([k, v]) => [k, box.open(v)]));
  } catch {
    throw new StepError(
      'secrets',
      'secrets_unreadable',
      "the deployment's secrets cannot be opened with this worker's STAGECOACH_SECRET_KEY (another key sealed them)",
    );
  }
}

/** Writes the secrets file on the target (a step of its own; skipped without secrets). */
export async function deliverSecrets(
  ctx: StageContext,
  t: Transport,
  values: Record<string, string>,
  rec: StageRecorder,
): Promise<void> {
  if (Object.keys(values).length === 0) {
    return;
  }
  await rec.step('secrets', 'Deliver secrets', async (h) => {
    const opts = { step: 'secrets', code: 'secrets_failed', handle: h };
    // upload into a fresh 0700 dir, make it 0600 there, then move it in: never readable by others
    const staging = `state/.secrets-${randomBytes(6).toString('hex')}`;
    await runChecked(t, ['mkdir', '-p', 'state'], opts);
    await runChecked(t, ['mkdir', '-m', '700', staging], opts);
    const dir = path.join(ctx.config.dataDir, 'tmp');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const local = path.join(dir, `secrets-${randomBytes(8).toString('hex')}.env`);
    try {
      await writeFile(local, shellEnvFile(values), { mode: 0o600 });
      await t.putFile(local, `${staging}/secrets.env`);
      await runChecked(t, ['chmod', '600', `${staging}/secrets.env`], opts);
      await runChecked(t, ['mv', '-f', `${staging}/secrets.env`, SECRETS_FILE], opts);
    } finally {
      await rm(local, { force: true });
      await t.exec(['rm', '-rf', staging]);
    }
    h.output('stdout', `${Object.keys(values).length} secret(s) written to ${SECRETS_FILE}\n`);
  });
}
