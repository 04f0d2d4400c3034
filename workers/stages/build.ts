/** Stage build: the deterministic, content-addressed bundle (while the deployment is `pending`). */
import path from 'node:path';
import { buildBundle } from '../../shared/bundle/build.js';
import { BundleError } from '../../shared/bundle/errors.js';
import { StepError } from '../../shared/errors.js';
import type { Manifest } from '../../shared/manifest.js';
import { patchDeployment, type DeploymentRow } from '../../shared/repositories/deployments.js';
import type { StageContext } from '../context.js';
import type { StageRecorder } from '../recorder.js';

/** Builds (or finds in the cache) the bundle and records it on the deployment. */
export async function runBuild(
  ctx: StageContext,
  deployment: DeploymentRow,
  rec: StageRecorder,
  opts: { leaseToken: string; forceRebuild: boolean },
): Promise<Record<string, unknown>> {
  const bundle = await rec.step('bundle', 'Build the bundle', async (h) => {
    try {
      const built = await buildBundle({
        manifest: deployment.manifest as unknown as Manifest,
        scenariosDir: ctx.config.scenariosDir,
        cacheDir: path.join(ctx.config.dataDir, 'bundles'),
        scriptsDir: ctx.scriptsDir,
        force: opts.forceRebuild,
        maxBytes: ctx.config.BUNDLE_MAX_BYTES,
      });
      h.output(
        'stdout',
        `bundle ${built.sha256} (${built.size_bytes} bytes, ${built.cached ? 'cached' : 'built'})\n`,
      );
      return built;
    } catch (err) {
      if (err instanceof BundleError) {
        const details = err.details ? `\n${JSON.stringify(err.details)}` : '';
        throw new StepError('bundle', err.code, `${err.message}${details}`, { cause: err });
      }
      throw err;
    }
  });
  await patchDeployment(ctx.db, deployment.id, opts.leaseToken, {
    bundle: { sha256: bundle.sha256, size_bytes: bundle.size_bytes },
  });
  return { sha256: bundle.sha256, size_bytes: bundle.size_bytes, cached: bundle.cached };
}
