/**
 * The worker's reading of a target command's result: the last `STAGECOACH_RESULT` line must
 * hold a JSON object; anything else fails the step with `target_output_invalid` and the tail.
 */
import { expect } from 'chai';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { StepError } from '../../shared/errors.js';
import type { DeploymentRow } from '../../shared/repositories/deployments.js';
import { LocalTransport } from '../../shared/transports/local.js';
import { OUTPUT_INVALID, manage, parseResult } from '../../workers/remote.js';
import { runInspect } from '../../workers/stages/inspect.js';

/** The StepError `fn` throws (fails the test when it throws nothing or something else). */
async function stepError(fn: () => unknown): Promise<StepError> {
  try {
    await fn();
  } catch (err) {
    expect(err).to.be.instanceOf(StepError);
    return err as StepError;
  }
  expect.fail('expected a StepError');
}

const output = (stdout: string, stderr = '') => ({ stdout, stderr });

describe('workers/remote.ts: parseResult', () => {
  it('returns the object of the last result line, output after it allowed', () => {
    const stdout = [
      'starting',
      'STAGECOACH_RESULT {"old":true}',
      'STAGECOACH_RESULT {"services":[{"name":"web"}]}',
      'done',
      '',
    ].join('\n');
    expect(parseResult(output(stdout), 'health_check')).to.deep.equal({
      services: [{ name: 'web' }],
    });
  });

  it('a missing result line is target_output_invalid with the tail, never {}', async () => {
    const err = await stepError(() =>
      parseResult(output('line one\nline two\n', 'warning: odd\n'), 'start_services'),
    );
    expect(err.code).to.equal(OUTPUT_INVALID);
    expect(err.step).to.equal('start_services');
    expect(err.message).to.match(/^start_services: the target printed no STAGECOACH_RESULT line/);
    expect(err.message).to.contain('--- output tail ---\nline one\nline two\nwarning: odd');
  });

  it('malformed JSON is target_output_invalid quoting the line', async () => {
    const err = await stepError(() =>
      parseResult(output('x\nSTAGECOACH_RESULT {"name":"we"b"}\n'), 'build'),
    );
    expect(err.code).to.equal(OUTPUT_INVALID);
    expect(err.step).to.equal('build');
    expect(err.message).to.contain('printed a result that is not JSON');
    expect(err.message).to.contain('{"name":"we"b"}');
  });

  for (const json of ['[]', '"text"', '42', 'null', 'true']) {
    it(`JSON that is not an object (${json}) is target_output_invalid`, async () => {
      const err = await stepError(() =>
        parseResult(output(`STAGECOACH_RESULT ${json}\n`), 'prune'),
      );
      expect(err.code).to.equal(OUTPUT_INVALID);
      expect(err.message).to.contain(`printed a result that is not a JSON object: ${json}`);
    });
  }

  it('a long malformed line is quoted cut short', async () => {
    const err = await stepError(() =>
      parseResult(output(`STAGECOACH_RESULT {"a":"${'x'.repeat(5000)}\n`), 'prune'),
    );
    expect(err.message.length).to.be.below(1500);
  });
});

describe('workers/remote.ts: a target script with malformed output (local transport)', function () {
  this.timeout(30_000);
  let workdir: string;
  let t: LocalTransport;

  /** Writes `body` as <dir>/manage.sh under the workdir. */
  async function script(dir: string, body: string): Promise<void> {
    await mkdir(path.join(workdir, dir), { recursive: true });
    const file = path.join(workdir, dir, 'manage.sh');
    await writeFile(file, `#!/usr/bin/env bash\nset -euo pipefail\n${body}\n`);
    await chmod(file, 0o755);
  }

  const health = () =>
    manage(t, 'releases/r1', 'health', ['5'], {
      step: 'health_check',
      code: 'health_check_failed',
      home: t.workdir,
    });

  before(async () => {
    workdir = await mkdtemp(path.join(os.tmpdir(), 'stagecoach-remote-'));
    t = new LocalTransport(workdir);
  });
  after(async () => {
    await rm(workdir, { recursive: true, force: true });
  });

  it('a result that does not parse fails the step with target_output_invalid and the tail', async () => {
    await script(
      'releases/r1',
      'echo "health: timeout $2"; echo "odd detail" >&2; echo \'STAGECOACH_RESULT {"services":[\'',
    );
    const err = await stepError(health);
    expect(err.step).to.equal('health_check');
    expect(err.code).to.equal(OUTPUT_INVALID);
    expect(err.message).to.contain('--- output tail ---\nhealth: timeout 5\nodd detail');
    expect(err.message).to.contain('{"services":[');
  });

  it('no result line at all fails the step the same way', async () => {
    await script('releases/r1', 'echo "health: all services healthy"');
    const err = await stepError(health);
    expect(err.code).to.equal(OUTPUT_INVALID);
    expect(err.message).to.contain('printed no STAGECOACH_RESULT line');
    expect(err.message).to.contain('health: all services healthy');
  });

  it('a failing command keeps its own code (the exit status comes first)', async () => {
    await script('releases/r1', 'echo "service web: unhealthy" >&2; exit 1');
    const err = await stepError(health);
    expect(err.code).to.equal('health_check_failed');
  });

  it('a valid result is returned', async () => {
    await script(
      'releases/r1',
      'echo progress; echo \'STAGECOACH_RESULT {"services":[{"name":"web","http":true}]}\'',
    );
    expect(await health()).to.deep.equal({ services: [{ name: 'web', http: true }] });
  });

  it('inspect reports a malformed status as an inspect failure, not a crash', async () => {
    await script('current', 'echo "service web: running=true"; echo "STAGECOACH_RESULT nope"');
    const deployment = { bundle: null } as unknown as DeploymentRow;
    const result = await runInspect(deployment, t);
    expect(result.ok).to.equal(false);
    expect(result.code).to.equal(OUTPUT_INVALID);
    expect(result.error).to.match(/^inspect: the target printed a result that is not JSON/);
    expect(result.detail).to.contain('service web: running=true');
  });
});
