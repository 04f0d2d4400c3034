/**
 * End to end on the embedded default, as a user runs it: `npm run dev`, deploy the example to a
 * local target, reach it over HTTP, inspect, stop, re-deploy, check the history; survive a
 * kill -9 (stale postmaster) and a crash in the middle of a deploy.
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { chmod, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { buildManifest } from '../factories.js';
import { startDev, type DevProcess } from '../helpers/dev-process.js';
import { expectValidHistory } from '../helpers/history.js';
import { freePort } from '../helpers/ports.js';
import { copyExample, editFile } from '../helpers/scenario-dir.js';

describe('npm run dev end to end (embedded PostgreSQL, PostgreSQL queue backend)', function () {
  this.timeout(240_000);
  let scenarios: string;
  let env: Record<string, string>;
  let dev: DevProcess | undefined;
  const logFile = path.join('/tmp', `stagecoach-e2e-${process.pid}.log`);

  const call = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(`${dev!.url}/api/v1${p}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: res.status === 204 ? null : await res.json() };
  };
  const waitFor = async (id: string, statuses: string[], ms = 90_000) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const d = (await call('GET', `/deployments/${id}`)).body.deployment;
      if (statuses.includes(d.status) && !d.run_active) {
        return d;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${id} never reached ${statuses}`);
  };

  before(async () => {
    scenarios = await copyExample('hello-web');
    await chmod(scenarios, 0o755); // the embedded server runs as `postgres` when tests run as root
    env = {
      STAGECOACH_DATA_DIR: path.join(scenarios, '.data'),
      SCENARIOS_DIR: scenarios,
      PORT: String(await freePort()),
      EMBEDDED_PG_PORT: String(await freePort()),
    };
    dev = await startDev(env, logFile);
  });

  after(async () => {
    if (dev) {
      dev.child.kill('SIGINT');
      await dev.exited;
    }
    await rm(scenarios, { recursive: true, force: true });
  });

  it('deploys hello-web, inspects, stops, re-deploys; history holds only table edges', async () => {
    const port = await freePort();
    const manifest = buildManifest({
      ports: { web: port },
      target: { type: 'local', workdir: 'targets/hello' },
    });
    const created = await call('POST', '/deployments', { manifest, execute: true });
    expect(created.status).to.equal(201);
    const id = created.body.deployment.id;
    expect((await waitFor(id, ['deployed', 'failed'])).status).to.equal('deployed');
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).to.contain('hello');

    const inspected = await call('POST', `/deployments/${id}/inspect?wait=30`);
    expect(inspected.body.result.services[0].running).to.equal(true);
    expect(inspected.body.result.logs.web).to.be.an('array');

    await call('POST', `/deployments/${id}/stop`, {});
    expect((await waitFor(id, ['stopped'])).status).to.equal('stopped');
    await call('POST', `/deployments/${id}/redeploy`, {});
    expect((await waitFor(id, ['deployed', 'failed'])).status).to.equal('deployed');
    const events = (await call('GET', `/deployments/${id}/history`)).body.events;
    expectValidHistory(events);
    expect(events.at(-1).to_status).to.equal('deployed');
  });

  it('comes back after kill -9 (stale postmaster) with the deployment and its service intact', async () => {
    const list = (await call('GET', '/deployments')).body.deployments;
    const before = list[0];
    dev!.child.kill('SIGKILL');
    await dev!.exited;
    const pidFile = path.join(env.STAGECOACH_DATA_DIR, 'pg', 'postmaster.pid');
    expect(existsSync(pidFile), 'postmaster.pid left behind').to.equal(true);
    dev = await startDev(env, logFile);
    const after = (await call('GET', `/deployments/${before.id}`)).body.deployment;
    expect(after.status).to.equal('deployed');
    const port = after.manifest.ports.web;
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).to.equal(200);
    await call('POST', `/deployments/${before.id}/stop`, {});
    await waitFor(before.id, ['stopped']);
  });

  it('a crash in the middle of a deploy does not leave the deployment running', async () => {
    await editFile(
      path.join(scenarios, 'examples/hello-web/scenario.json'),
      '"start"',
      '"build": "sleep 6", "start"',
    );
    const port = await freePort();
    const manifest = buildManifest({
      ports: { web: port },
      target: { type: 'local', workdir: 'targets/crash' },
    });
    const id = (await call('POST', '/deployments', { manifest, execute: true })).body.deployment.id;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const d = (await call('GET', `/deployments/${id}`)).body.deployment;
      if (d.progress?.step === 'build' || Date.now() > deadline) {
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    dev!.child.kill('SIGKILL');
    await dev!.exited;
    dev = await startDev(env, logFile);
    expect((await call('GET', `/deployments/${id}`)).body.deployment.status).to.equal('deploying');
    const d = await waitFor(id, ['deployed', 'failed'], 150_000);
    expect(d.status, d.error_message).to.equal('deployed');
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).to.equal(200);
    expectValidHistory((await call('GET', `/deployments/${id}/history`)).body.events);
    await call('POST', `/deployments/${id}/stop`, {});
    await waitFor(id, ['stopped']);
  });

  it('shuts down cleanly on SIGINT, stopping the embedded PostgreSQL', async () => {
    dev!.child.kill('SIGINT');
    expect(await dev!.exited).to.equal(0);
    dev = undefined;
    const pidFile = path.join(env.STAGECOACH_DATA_DIR, 'pg', 'postmaster.pid');
    expect(existsSync(pidFile), await readFile(logFile, 'utf8').catch(() => '')).to.equal(false);
  });
});
