/** The bundle module's public API. */
export { buildBundle, collectBundleEntries, DEFAULT_SCRIPTS_DIR } from './build.js';
export type { BuildBundleOptions, BuiltBundle } from './build.js';
export { checkScenarioAgainstManifest, RESOURCE_ENV, type Issue } from './check-scenario.js';
export { BundleError, type BundleErrorCode } from './errors.js';
export { computeInputKey, BUNDLE_FORMAT_VERSION } from './input-key.js';
export { loadScenario, parseScenario, SCENARIO_FILE } from './load-scenario.js';
export { renderConfig, sortKeys, type RenderedFile } from './render-config.js';
