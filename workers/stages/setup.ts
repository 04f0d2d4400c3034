/** Stage setup: ship the bundle, extract the release, run `manage.sh setup`. */
import path from 'node:path';
import { StepError } from '../../shared/errors.js';
import type { Manifest } from '../../shared/manifest.js';
import type { DeploymentRow } from '../../shared/repositories/deployments.js';
import type { Transport } from '../../shared/transports/types.js';
import type { StageContext } from '../context.js';
import type { StageRecorder } from '../recorder.js';
import { manage, runChecked, targetPaths } from '../remote.js';
import { runPreflight } from './preflight.js';

/** True when the target already holds a file with that sha256 (checked on the target). */
async function holdsBundle(t: Transport, file: string, sha256: string): Promise<boolean> {
  const r = await t.exec(['sha256sum', file]);
  return r.code === 0 && r.stdout.split(/\s/)[0] === sha256;
}

/** True when the release exists and finished setup. */
export async function releaseIsSetUp(t: Transport, sha256: string): Promise<boolean> {
  const r = await t.exec(['test', '-f', `${targetPaths(sha256).release}/.setup-ok`]);
  return r.code === 0;
}

/** Runs setup on the target; skips the steps already done for this bundle sha256. */
export async function runSetup(
  ctx: StageContext,
  deployment: DeploymentRow,
  t: Transport,
  rec: StageRecorder,
): Promise<Record<string, unknown>> {
  const bundle = deployment.bundle;
  if (!bundle) {
    throw new StepError(
      'transfer',
      'bundle_missing',
      'the deployment has no bundle; Execute or Retry builds it',
    );
  }
  const preflight = await runPreflight(ctx, deployment.manifest as unknown as Manifest, t, rec);
  const paths = targetPaths(bundle.sha256);
  if (await releaseIsSetUp(t, bundle.sha256)) {
    for (const [id, title] of STEPS) {
      rec.skipped(id, title, `release ${bundle.sha256} is already set up on the target`);
    }
    return { bundle_sha256: bundle.sha256, uploaded: false, skipped: true, preflight };
  }
  const uploaded = await rec.step('transfer', 'Transfer the bundle', async (h) => {
    // bundles and releases hold the app's env: private, also where an older version made them
    await runChecked(t, ['install', '-d', '-m', '700', 'bundles', 'releases'], {
      step: 'transfer',
      code: 'transfer_failed',
      handle: h,
    });
    if (await holdsBundle(t, paths.bundle, bundle.sha256)) {
      h.output('stdout', `target already holds ${paths.bundle}; upload skipped\n`);
      return false;
    }
    const local = path.join(ctx.config.dataDir, 'bundles', `${bundle.sha256}.tar.gz`);
    await t.putFile(local, paths.bundle);
    if (!(await holdsBundle(t, paths.bundle, bundle.sha256))) {
      throw new StepError(
        'transfer',
        'transfer_corrupt',
        `uploaded bundle does not match sha256 ${bundle.sha256}`,
      );
    }
    h.output('stdout', `uploaded ${bundle.size_bytes} bytes to ${t.describe}/${paths.bundle}\n`);
    return true;
  });
  await rec.step('extract', 'Extract the release', async (h) => {
    const tmp = `${paths.release}.tmp`;
    const opts = { step: 'extract', code: 'extract_failed', handle: h };
    await runChecked(t, ['rm', '-rf', tmp, paths.release], opts);
    await runChecked(t, ['mkdir', '-m', '700', tmp], opts);
    await runChecked(t, ['tar', '-xzf', paths.bundle, '-C', tmp], opts);
    // tar keeps the archive's 0644/0755 (as root): nothing of a release is for other users
    await runChecked(t, ['chmod', '-R', 'go=', tmp], opts);
    await runChecked(t, ['mv', tmp, paths.release], opts);
  });
  const result = await rec.step('manage_setup', 'Prepare the target (manage.sh setup)', (h) =>
    manage(t, paths.release, 'setup', [], {
      step: 'manage_setup',
      code: 'setup_failed',
      handle: h,
      home: t.workdir,
    }),
  );
  return {
    bundle_sha256: bundle.sha256,
    uploaded,
    skipped: false,
    tools: result.tools ?? {},
    preflight,
  };
}

const STEPS: [string, string][] = [
  ['transfer', 'Transfer the bundle'],
  ['extract', 'Extract the release'],
  ['manage_setup', 'Prepare the target (manage.sh setup)'],
];
