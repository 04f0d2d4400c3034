/** Test factories: valid inputs with overrides, and scenario directories written to temp dirs. */
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { z } from 'zod';
import type { ManifestInput } from '../shared/manifest.js';
import type { scenarioSchema } from '../shared/scenario.js';

/** The scenario.json shape before defaults are applied. */
export type ScenarioInput = z.input<typeof scenarioSchema>;

/** The scenario path every factory default points at. */
export const DEFAULT_SCENARIO_PATH = 'examples/hello-web';

/** A valid manifest (scenario examples/hello-web, local target targets/test, port web=18080). */
export function buildManifest(overrides: Partial<ManifestInput> = {}): ManifestInput {
  return {
    version: 1,
    scenario: { path: DEFAULT_SCENARIO_PATH },
    target: { type: 'local', workdir: 'targets/test' },
    ports: { web: 18080 },
    env: {},
    ...overrides,
  };
}

/** A valid scenario.json object: one `web` service on port key `web`, no resources. */
export function buildScenario(overrides: Partial<ScenarioInput> = {}): ScenarioInput {
  return {
    name: 'hello-web',
    services: [{ name: 'web', start: 'node server.js', port: 'web', health: '/health' }],
    resources: [],
    ...overrides,
  };
}

/** A file to write: its content, an explicit mode, or a symlink with the given target. */
export type FixtureFile =
  string | Buffer | { content: string | Buffer; mode: number } | { symlink: string };

/** Creates a fresh directory under the OS temp dir. */
export function makeTempDir(prefix = 'stagecoach-test-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Removes a directory tree made by makeTempDir (missing is fine). */
export function removeTempDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}

/** Writes `files` (relative path → content) below `root`, creating parent directories. */
export async function writeFiles(root: string, files: Record<string, FixtureFile>): Promise<void> {
  for (const [rel, file] of Object.entries(files)) {
    const abs = path.join(root, rel);
    await mkdir(path.dirname(abs), { recursive: true });
    if (typeof file === 'string' || Buffer.isBuffer(file)) {
      await writeFile(abs, file);
    } else if ('symlink' in file) {
      await symlink(file.symlink, abs);
    } else {
      await writeFile(abs, file.content);
      await chmod(abs, file.mode);
    }
  }
}

/**
 * Writes a scenario directory at `scenariosDir/relPath`: `scenario.json` (an object is
 * serialised, a string is written as is), a tiny `server.js`, and any extra `files`.
 * Returns the scenario directory's absolute path.
 */
export async function writeScenarioDir(
  scenariosDir: string,
  options: {
    relPath?: string;
    scenario?: ScenarioInput | Record<string, unknown> | string;
    files?: Record<string, FixtureFile>;
  } = {},
): Promise<string> {
  const dir = path.join(scenariosDir, options.relPath ?? DEFAULT_SCENARIO_PATH);
  const scenario = options.scenario ?? buildScenario();
  await writeFiles(dir, {
    'scenario.json':
      typeof scenario === 'string' ? scenario : `${JSON.stringify(scenario, null, 2)}\n`,
    'server.js':
      "require('node:http').createServer((q, s) => s.end('ok')).listen(process.env.PORT);\n",
    ...options.files,
  });
  return dir;
}

/** Writes stand-in SCRIPT_NAMES (0755) and `lib/common.sh` into `dir`; returns it. */
export async function writeTargetScripts(dir: string, marker = 'fixture'): Promise<string> {
  await writeFiles(dir, {
    'manage.sh': { content: `#!/usr/bin/env bash\n# ${marker} manage.sh\nexit 0\n`, mode: 0o755 },
    'setup.sh': { content: `#!/usr/bin/env bash\n# ${marker} setup.sh\nexit 0\n`, mode: 0o755 },
    'supervise.sh': {
      content: `#!/usr/bin/env bash\n# ${marker} supervise.sh\nexit 0\n`,
      mode: 0o755,
    },
    'lib/common.sh': `# shellcheck shell=bash\n# ${marker} lib/common.sh\n`,
  });
  return dir;
}
