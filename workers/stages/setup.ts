/** Stage setup: ship the bundle (whole or as a delta), assemble the release, run `manage.sh setup`. */
import path from 'node:path';
import { StepError } from '../../shared/errors.js';
import type { Manifest } from '../../shared/manifest.js';
import type { DeploymentRow } from '../../shared/repositories/deployments.js';
import type { Transport } from '../../shared/transports/types.js';
import type { StageContext } from '../context.js';
import type { StageRecorder } from '../recorder.js';
import { manage, targetPaths } from '../remote.js';
import { runPreflight } from './preflight.js';
import { applyTransfer, transferBundle } from './transfer.js';
import { readTransferInputs } from './transfer-inputs.js';

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
  const manifest = deployment.manifest as unknown as Manifest;
  const dirs = { cacheDir: path.join(ctx.config.dataDir, 'bundles'), scriptsDir: ctx.scriptsDir };
  // the worker's side of the transfer (the bundle's index) is read while preflight runs
  const inputs = readTransferInputs(dirs, bundle.sha256);
  const { result: preflight, target } = await runPreflight(ctx, manifest, t, rec, bundle.sha256);
  const paths = targetPaths(bundle.sha256);
  if (target.releaseReady) {
    for (const [id, title] of STEPS) {
      rec.skipped(id, title, `release ${bundle.sha256} is already set up on the target`);
    }
    return { bundle_sha256: bundle.sha256, uploaded: false, skipped: true, preflight };
  }
  const transfer = await rec.step('transfer', 'Transfer the bundle', (h) =>
    transferBundle(t, dirs, bundle, h, target, inputs),
  );
  await rec.step('extract', 'Extract the release', (h) =>
    applyTransfer(t, transfer, bundle.sha256, h),
  );
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
    ...transfer.outcome,
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
