import { expect } from 'chai';
import { mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { BundleError } from '../../../shared/bundle/errors.js';
import { loadScenario } from '../../../shared/bundle/load-scenario.js';
import { buildScenario, makeTempDir, removeTempDir, writeScenarioDir } from '../../factories.js';

async function rejection(promise: Promise<unknown>): Promise<BundleError> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(BundleError);
    return err as BundleError;
  }
  throw new Error('expected a BundleError');
}

describe('loadScenario', () => {
  let root: string;
  let scenariosDir: string;

  beforeEach(async () => {
    root = await makeTempDir();
    scenariosDir = path.join(root, 'scenarios');
    await mkdir(scenariosDir);
  });
  afterEach(() => removeTempDir(root));

  it('returns the real directory and the parsed scenario with defaults', async () => {
    const dir = await writeScenarioDir(scenariosDir);
    const loaded = await loadScenario(scenariosDir, 'examples/hello-web');
    expect(loaded.dir).to.equal(dir);
    expect(loaded.scenario.name).to.equal('hello-web');
    expect(loaded.scenario.resources).to.deep.equal([]);
    expect(loaded.scenario.services[0].health).to.equal('/health');
  });

  it('reports a missing directory or scenario.json as scenario_not_found', async () => {
    expect((await rejection(loadScenario(scenariosDir, 'examples/nope'))).code).to.equal(
      'scenario_not_found',
    );
    await mkdir(path.join(scenariosDir, 'empty'));
    expect((await rejection(loadScenario(scenariosDir, 'empty'))).code).to.equal(
      'scenario_not_found',
    );
  });

  it('rejects ".." and absolute paths with scenario_path_escape', async () => {
    await writeScenarioDir(root, { relPath: 'outside' });
    for (const rel of ['../outside', 'examples/../../outside', path.join(root, 'outside'), '.']) {
      expect((await rejection(loadScenario(scenariosDir, rel))).code, rel).to.equal(
        'scenario_path_escape',
      );
    }
  });

  it('rejects a symlinked scenario directory that leads outside', async () => {
    const outside = await writeScenarioDir(root, { relPath: 'outside' });
    await symlink(outside, path.join(scenariosDir, 'sneaky'));
    expect((await rejection(loadScenario(scenariosDir, 'sneaky'))).code).to.equal(
      'scenario_path_escape',
    );
  });

  it('rejects a scenario.json symlinked to a file outside', async () => {
    await writeScenarioDir(root, { relPath: 'outside' });
    const dir = path.join(scenariosDir, 'linked');
    await mkdir(dir);
    await symlink(path.join(root, 'outside', 'scenario.json'), path.join(dir, 'scenario.json'));
    expect((await rejection(loadScenario(scenariosDir, 'linked'))).code).to.equal(
      'scenario_path_escape',
    );
  });

  it('gives scenario_invalid with issues for a schema violation', async () => {
    const scenario = { ...buildScenario(), services: [{ name: 'Web!', start: 'x', port: 'web' }] };
    await writeScenarioDir(scenariosDir, { scenario });
    const err = await rejection(loadScenario(scenariosDir, 'examples/hello-web'));
    expect(err.code).to.equal('scenario_invalid');
    const issues = err.details as { path: string; message: string }[];
    expect(issues.map((i) => i.path)).to.include('services.0.name');
  });

  it('gives scenario_invalid for malformed JSON', async () => {
    await writeScenarioDir(scenariosDir, { scenario: '{ "name": ' });
    const err = await rejection(loadScenario(scenariosDir, 'examples/hello-web'));
    expect(err.code).to.equal('scenario_invalid');
    expect((err.details as { message: string }[])[0].message).to.match(/invalid JSON/);
  });
});
