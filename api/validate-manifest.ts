/** Everything a manifest must satisfy before a deployment is stored. */
import { checkScenarioAgainstManifest } from '../shared/bundle/check-scenario.js';
import { BundleError } from '../shared/bundle/errors.js';
import { loadScenario } from '../shared/bundle/load-scenario.js';
import type { Config } from '../shared/config.js';
import { AppError } from '../shared/errors.js';
import { manifestSchema, type Manifest } from '../shared/manifest.js';
import type { Scenario } from '../shared/scenario.js';
import { resolveLocalWorkdir } from '../shared/targets.js';
import { parseOr } from './errors.js';

const invalid = (issues: { path: string; message: string }[]): AppError =>
  new AppError('invalid_manifest', 'manifest is invalid', 422, { issues });

/** Parses the manifest strictly, reads its scenario and cross-checks both. */
export async function validateManifest(
  raw: unknown,
  config: Config,
): Promise<{ manifest: Manifest; scenario: Scenario }> {
  const manifest = parseOr(manifestSchema, raw, 'invalid_manifest', 'manifest');
  if (manifest.target.type === 'local') {
    resolveLocalWorkdir(config.dataDir, manifest.target.workdir);
  }
  let scenario: Scenario;
  try {
    scenario = (await loadScenario(config.scenariosDir, manifest.scenario.path)).scenario;
  } catch (err) {
    if (err instanceof BundleError) {
      const nested = Array.isArray(err.details)
        ? (err.details as { path: string; message: string }[])
        : [];
      const issues = nested.length
        ? nested.map((i) => ({ path: `scenario.${i.path}`.replace(/\.$/, ''), message: i.message }))
        : [{ path: 'scenario.path', message: err.message }];
      throw invalid(issues);
    }
    throw err;
  }
  const issues = checkScenarioAgainstManifest(scenario, manifest);
  if (issues.length) {
    throw invalid(issues);
  }
  return { manifest, scenario };
}
