/**
 * `stagecoach deploy --follow` and friends as a user runs them: the CLI in its own process,
 * against a listening API with real workers deploying to local targets.
 */
import { expect } from 'chai';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildManifest } from '../factories.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { freePort } from '../helpers/ports.js';
import { copyExample } from '../helpers/scenario-dir.js';
import { manifestFile, runCli, STACK_LINE, startCli, waitForOutput } from './run-cli.js';

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/** A copy of hello-web whose service has the given build command. */
async function variant(scenarios: string, name: string, build: string): Promise<void> {
  const dir = path.join(scenarios, 'examples', name);
  await cp(path.join(scenarios, 'examples', 'hello-web'), dir, { recursive: true });
  const service = { name: 'web', build, start: 'node server.js', port: 'web', health: '/health' };
  await writeFile(
    path.join(dir, 'scenario.json'),
    JSON.stringify({ name, packages: ['nodejs'], services: [service], resources: [] }),
  );
}

describe('stagecoach CLI: deploy --follow against a running stagecoach', function () {
  this.timeout(180_000);
  let h: Harness;
  let server: Server;
  let url: string;
  let scenarios: string;
  let dir: string;
  let deployedId: string;

  before(async () => {
    scenarios = await copyExample('hello-web');
    await variant(
      scenarios,
      'broken-web',
      "echo compiling; echo 'error: cannot compile' >&2; exit 3",
    );
    // slow enough to act on while it builds: one line a second
    await variant(scenarios, 'slow-web', 'for i in 1 2 3 4; do echo tick $i; sleep 1; done');
    h = await createHarness('redis', { SCENARIOS_DIR: scenarios });
    h.startWorkers();
    server = h.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.on('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    dir = await mkdtemp(path.join(tmpdir(), 'stagecoach-cli-'));
  });

  after(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await h?.close();
    await rm(scenarios, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
  });

  /** A manifest file deploying `scenario` to its own workdir and port. */
  async function manifest(scenario: string, workdir: string): Promise<string> {
    const m = buildManifest({
      scenario: { path: `examples/${scenario}` },
      target: { type: 'local', workdir: `targets/${workdir}` },
      ports: { web: await freePort() },
      env: { GREETING: 'hi from the cli test' },
    });
    return manifestFile(dir, workdir, m);
  }

  it('deploys hello-web: exit 0, each stage to 100%, the logs, then `deployed`', async () => {
    const r = await runCli(['deploy', await manifest('hello-web', 'ok'), '--follow'], url);
    const all = JSON.stringify(r);
    expect(r.code, all).to.equal(0);
    const created = new RegExp(`^created deployment (${UUID}) \\(hello-web\\)`, 'm').exec(r.stdout);
    expect(created, all).to.not.equal(null);
    deployedId = created![1];
    const done = (stage: string) =>
      r.stdout.search(new RegExp(`^${stage} +\\[#{20}\\] 100% done in [\\d.]+ s$`, 'm'));
    expect(done('build'), all).to.be.greaterThan(0);
    expect(done('setup'), all).to.be.greaterThan(done('build'));
    expect(done('deploy'), all).to.be.greaterThan(done('setup'));
    expect(r.stdout).to.match(/^deploy +\[#+\.+\] +\d+% health_check$/m);
    expect(r.stdout).to.contain('  │ health: all services healthy');
    expect(r.stdout).to.contain('status: deploying → deployed');
    expect(r.stdout).to.match(
      new RegExp(
        `^deployed in [\\d.]+ s: hello-web \\(${deployedId}\\), release [0-9a-f]{12}$`,
        'm',
      ),
    );
    // protocol lines are for the worker, not for people
    expect(r.stdout).not.to.contain('STAGECOACH_RESULT');
    expect(r.stderr).to.contain(`following deployment ${deployedId} (Ctrl-C stops following`);
    const d = (await runCli(['status', deployedId, '--json'], url)).stdout;
    expect(JSON.parse(d).deployment.status).to.equal('deployed');
  });

  it('a build that fails: exit 1, naming the failing step, its code and message', async () => {
    const r = await runCli(['deploy', await manifest('broken-web', 'broken'), '--follow'], url);
    const all = JSON.stringify(r);
    expect(r.code, all).to.equal(1);
    expect(r.stderr, all).to.match(/^failed at step build \(build_failed\): build failed/m);
    expect(r.stdout, all).to.match(/^deploy +\[#*\.+\] +\d+% failed at build$/m);
    expect(r.stdout).to.contain('  │ error: cannot compile');
    expect(r.stdout).not.to.match(/^deploy .*100% done/m);
    expect(r.stderr + r.stdout).not.to.match(STACK_LINE);
  });

  it('--json: the API answer, then one event per line, ending with end and the deployment', async () => {
    const r = await runCli(['--json', 'deploy', await manifest('hello-web', 'json'), '-f'], url);
    expect(r.code, r.stderr).to.equal(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[0].deployment.id).to.match(new RegExp(UUID));
    const events = lines.slice(1).map((l) => l.event);
    expect(events).to.include.members(['history', 'log', 'progress']);
    expect(events.slice(-2)).to.deep.equal(['end', 'deployment']);
    expect(lines.at(-2).data).to.deep.equal({ status: 'deployed', deleted: false });
    expect(lines.at(-1).data.id).to.equal(lines[0].deployment.id);
    expect(lines.filter((l) => l.event === 'log').every((l) => /^e\d+-l\d+$/.test(l.id))).to.equal(
      true,
    );
  });

  it('reconnects with Last-Event-ID when the connection drops: every line once', async () => {
    const run = startCli(['deploy', await manifest('slow-web', 'reconnect'), '--follow'], url);
    await waitForOutput(run, (o) => o.stdout.includes('│ tick 1'));
    server.closeAllConnections();
    const r = await run.done;
    expect(r.code, JSON.stringify(r)).to.equal(0);
    expect(r.stderr).to.match(/event stream interrupted \(.+\); reconnecting in/);
    for (const n of [1, 2, 3, 4]) {
      expect(r.stdout.split(`│ tick ${n}\n`).length - 1, r.stdout).to.equal(1);
    }
    expect(r.stdout).to.match(/^deployed in /m);
  });

  it('Ctrl-C stops following with exit 130; the deployment goes on to deployed', async () => {
    const run = startCli(['deploy', await manifest('slow-web', 'interrupt'), '--follow'], url);
    await waitForOutput(run, (o) => o.stdout.includes('│ tick 1'));
    run.child.kill('SIGINT');
    const r = await run.done;
    const id = new RegExp(`created deployment (${UUID})`).exec(r.stdout)![1];
    expect(r.code, JSON.stringify(r)).to.equal(130);
    expect(r.stderr).to.contain(`stopped following; deployment ${id} goes on`);
    // the run was not touched: following it again sees it through
    const again = await runCli(['logs', id, '--follow'], url);
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.contain('[deploy/build] tick 4');
    expect(
      JSON.parse((await runCli(['status', id, '--json'], url)).stdout).deployment.status,
    ).to.equal('deployed');
  });

  it('reads a deployment: status, list, history, logs, inspect', async () => {
    const status = await runCli(['status', deployedId], url);
    expect(status.stdout)
      .to.match(/^status +deployed$/m)
      .and.match(/^release +[0-9a-f]{12}$/m);
    const list = await runCli(['list', '--status', 'deployed'], url);
    expect(list.stdout).to.match(/^ID +NAME +STATUS +HEALTH +UPDATED$/m);
    expect(list.stdout).to.match(new RegExp(`^${deployedId} +hello-web +deployed `, 'm'));
    const history = await runCli(['history', deployedId], url);
    expect(history.stdout).to.match(
      / status +deploying → deployed +deploy +worker +deploy complete$/m,
    );
    const logs = await runCli(['logs', deployedId], url);
    expect(logs.stdout).to.contain('[deploy/health_check] health: all services healthy');
    const inspect = await runCli(['inspect', deployedId], url);
    expect(inspect.code, inspect.stderr).to.equal(0);
    expect(inspect.stdout)
      .to.match(/^ok: inspected /)
      .and.match(/^web +running +\d+ +0 /m);
  });

  it('actions: stop and redeploy --follow end stopped and deployed; retry of a deployed one is refused', async () => {
    const stop = await runCli(['stop', deployedId, '--follow'], url);
    expect(stop.code, stop.stderr).to.equal(0);
    expect(stop.stdout)
      .to.match(/^stop +\[#{20}\] 100% done/m)
      .and.match(/^stopped in /m);
    const redeploy = await runCli(['redeploy', deployedId, '-f'], url);
    expect(redeploy.code, redeploy.stderr).to.equal(0);
    expect(redeploy.stdout).to.match(/^deployed in /m);
    const retry = await runCli(['retry', deployedId], url);
    expect(retry.code).to.equal(3);
    expect(retry.stderr).to.contain('(invalid_state, HTTP 409)');
  });
});
