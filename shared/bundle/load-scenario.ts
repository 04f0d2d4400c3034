/** Finds a scenario directory inside the scenarios root and validates its `scenario.json`. */
import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { formatIssues } from '../manifest.js';
import { scenarioSchema, type Scenario } from '../scenario.js';
import { BundleError, isErrno } from './errors.js';
import { isStrictlyWithin, isWithin } from './paths.js';

/** The file that describes a scenario, at the root of its directory. */
export const SCENARIO_FILE = 'scenario.json';

/** Resolves `relPath` strictly inside `scenariosDir` (after symlinks) and parses its scenario.json. */
export async function loadScenario(
  scenariosDir: string,
  relPath: string,
): Promise<{ dir: string; scenario: Scenario }> {
  const root = await realpathOrNotFound(scenariosDir, 'scenarios directory');
  const lexical = path.resolve(root, relPath);
  if (relPath.includes('\0') || !isStrictlyWithin(root, lexical)) {
    throw escape(relPath);
  }
  const dir = await realpathOrNotFound(lexical, `scenario "${relPath}"`);
  if (!isStrictlyWithin(root, dir)) {
    throw escape(relPath);
  }
  if (!(await stat(dir)).isDirectory()) {
    throw new BundleError('scenario_not_found', `scenario "${relPath}" is not a directory`);
  }
  const file = await realpathOrNotFound(
    path.join(dir, SCENARIO_FILE),
    `${relPath}/${SCENARIO_FILE}`,
  );
  if (!isWithin(dir, file)) {
    throw escape(`${relPath}/${SCENARIO_FILE}`);
  }
  return { dir, scenario: parseScenario(await readFile(file, 'utf8'), relPath) };
}

/** Parses and validates scenario.json text; throws `scenario_invalid` with `{path, message}` issues. */
export function parseScenario(text: string, label: string): Scenario {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const message = `invalid JSON: ${(err as Error).message}`;
    throw invalid(label, [{ path: '', message }]);
  }
  const result = scenarioSchema.safeParse(json);
  if (!result.success) {
    throw invalid(label, formatIssues(result.error));
  }
  return result.data;
}

async function realpathOrNotFound(p: string, what: string): Promise<string> {
  try {
    return await realpath(p);
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) {
      throw new BundleError('scenario_not_found', `${what} not found`, { cause: err });
    }
    throw err;
  }
}

function escape(relPath: string): BundleError {
  return new BundleError(
    'scenario_path_escape',
    `scenario path "${relPath}" leaves the scenarios directory`,
  );
}

function invalid(label: string, issues: { path: string; message: string }[]): BundleError {
  return new BundleError('scenario_invalid', `${label}/${SCENARIO_FILE} is invalid`, {
    details: issues,
  });
}
