/**
 * A swap race in loadScenario: it resolved scenario.json's real path, then read the path again,
 * so a file swapped in between was read, and JSON.parse's message quoted its first characters
 * (`"root:x:0:0"...`) into the API's 422 and the run's error_message; a FIFO swapped in hung
 * the read, a huge file was read whole. scenario.json is now read from one descriptor opened
 * no-follow and checked (inside the scenario, regular, at most 1 MiB), and a parse error names
 * a line and column, never the text.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BundleError } from '../../shared/bundle/errors.js';
import { loadScenario } from '../../shared/bundle/load-scenario.js';
import { buildScenario, makeTempDir, removeTempDir, writeScenarioDir } from '../factories.js';

const SECRET = 'root:x:0:0:SECRET-MARKER-7f3a:/root:/bin/bash';

/** The BundleError `promise` rejects with, within `ms` (a hang fails the test). */
async function rejection(promise: Promise<unknown>, ms = 3000): Promise<BundleError> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([promise, timeout]);
  } catch (err) {
    expect(err).to.be.instanceOf(BundleError);
    return err as BundleError;
  } finally {
    clearTimeout(timer);
  }
  throw new Error('expected a BundleError');
}

/** Everything of an error a caller could show: message and details. */
const shown = (err: BundleError): string => `${err.message} ${JSON.stringify(err.details)}`;

describe('security: scenario.json is read from one checked descriptor', function () {
  let root: string;
  let scenariosDir: string;
  let dir: string;
  let secretFile: string;

  beforeEach(async () => {
    root = await makeTempDir();
    scenariosDir = path.join(root, 'scenarios');
    await mkdir(scenariosDir);
    dir = await writeScenarioDir(scenariosDir);
    secretFile = path.join(root, 'passwd');
    await writeFile(secretFile, `${SECRET}\n`);
  });
  afterEach(() => removeTempDir(root));

  const file = () => path.join(dir, 'scenario.json');

  it('a parse error names line and column, never the text', async () => {
    await writeFile(file(), `{\n  "name": "x",\n  ${SECRET}\n}\n`);
    const err = await rejection(loadScenario(scenariosDir, 'examples/hello-web'));
    expect(err.code).to.equal('scenario_invalid');
    expect(shown(err)).not.to.contain('SECRET-MARKER').and.not.to.contain('root:x');
    expect(shown(err)).to.contain('invalid JSON').and.to.contain('line 3, column 3');
  });

  it('text that is no JSON at all is not quoted either', async () => {
    await writeFile(file(), `${SECRET}\n`);
    const err = await rejection(loadScenario(scenariosDir, 'examples/hello-web'));
    expect(err.code).to.equal('scenario_invalid');
    expect(shown(err)).not.to.contain('SECRET-MARKER').and.not.to.contain('root:x');
    expect(shown(err)).to.contain('invalid JSON');
  });

  it('a symlink to a file outside is refused without its content', async () => {
    await rm(file());
    await symlink(secretFile, file());
    const err = await rejection(loadScenario(scenariosDir, 'examples/hello-web'));
    expect(err.code).to.equal('scenario_path_escape');
    expect(shown(err)).not.to.contain('SECRET-MARKER');
  });

  it('a symlink to /dev/zero is refused at once', async () => {
    await rm(file());
    await symlink('/dev/zero', file());
    const err = await rejection(loadScenario(scenariosDir, 'examples/hello-web'));
    expect(err.code).to.equal('scenario_path_escape');
  });

  it('a symlink to a file inside the scenario is followed', async () => {
    await writeFile(path.join(dir, 'real.json'), JSON.stringify(buildScenario({ name: 'linked' })));
    await rm(file());
    await symlink('real.json', file());
    const { scenario } = await loadScenario(scenariosDir, 'examples/hello-web');
    expect(scenario.name).to.equal('linked');
  });

  it('a FIFO is refused at once (the open does not block)', async () => {
    await rm(file());
    expect(spawnSync('mkfifo', [file()]).status).to.equal(0);
    const err = await rejection(loadScenario(scenariosDir, 'examples/hello-web'));
    expect(err.code).to.equal('scenario_invalid');
    expect(shown(err)).to.contain('not a regular file');
  });

  it('a file over 1 MiB is refused without being read', async () => {
    await writeFile(file(), '');
    await truncate(file(), 4 * 1024 * 1024 * 1024);
    const started = Date.now();
    const err = await rejection(loadScenario(scenariosDir, 'examples/hello-web'));
    expect(err.code).to.equal('scenario_invalid');
    expect(shown(err)).to.contain('larger than 1048576 bytes');
    expect(Date.now() - started).to.be.below(1000);
  });

  it('swapping scenario.json for a symlink to a file outside, over and over, never shows it', async function () {
    this.timeout(60_000);
    // A separate process swaps as fast as it can (rename is atomic): a regular file, then a
    // symlink to the file outside, again and again.
    const swapper = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('node:fs');
         const [valid, secret, file] = process.argv.slice(1);
         for (;;) {
           fs.writeFileSync(file + '.a', valid);
           fs.renameSync(file + '.a', file);
           fs.symlinkSync(secret, file + '.b');
           fs.renameSync(file + '.b', file);
         }`,
        JSON.stringify(buildScenario()),
        secretFile,
        file(),
      ],
      { stdio: 'ignore' },
    );
    const codes = new Map<string, number>();
    try {
      for (let i = 0; i < 3000; i++) {
        try {
          const { scenario } = await loadScenario(scenariosDir, 'examples/hello-web');
          expect(scenario.name).to.equal('hello-web');
          codes.set('ok', (codes.get('ok') ?? 0) + 1);
        } catch (err) {
          expect(err, String(err)).to.be.instanceOf(BundleError);
          const e = err as BundleError;
          expect(shown(e), `attempt ${i}`).not.to.contain('SECRET-MARKER');
          expect(shown(e), `attempt ${i}`).not.to.contain('root:x');
          codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
        }
      }
    } finally {
      swapper.kill('SIGKILL');
    }
    // Both sides of the swap were seen, so the race was really run.
    expect(codes.get('ok') ?? 0, JSON.stringify([...codes])).to.be.above(0);
    expect(codes.get('scenario_path_escape') ?? 0, JSON.stringify([...codes])).to.be.above(0);
  });
});
