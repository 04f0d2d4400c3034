/**
 * manage.sh's release switch (lib/slots.sh, lib/release-commands.sh) on real processes: the
 * edge's service starts beside the serving one on its spare port, promote switches and drains
 * the old one, discard takes back a failed start, and start --resume puts a release back.
 * (Caddy itself is exercised by test/integration/zero-downtime.test.ts.)
 */
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../helpers/ports.js';
import {
  alive,
  assembleRelease,
  cleanUp,
  manage,
  ok,
  resultOf,
} from '../helpers/target-release.js';

async function body(port: number): Promise<string> {
  try {
    return await (await fetch(`http://127.0.0.1:${port}/`)).text();
  } catch (err) {
    return `error ${(err as Error).message}`;
  }
}

describe('scripts/target/manage.sh: slots, promote, discard', function () {
  this.timeout(60_000);
  let home: string | undefined;
  const pids = new Set<number>();
  let web: number;
  let spare: number;

  before(async () => {
    home = await mkdtemp(path.join(tmpdir(), 'stagecoach-slots-'));
    [web, spare] = [await freePort(), await freePort()];
    for (const [name, greeting, health] of [
      ['good1', 'one', '200'],
      ['good2', 'two', '200'],
      ['bad', 'bad', '500'],
    ]) {
      await assembleRelease(home, name, {
        scenario: 'hello-web',
        services: [{ name: 'web', port: web, start: 'node server.js' }],
        env: { GREETING: greeting, HEALTH_STATUS: health },
        healthTimeout: 5,
        edge: {
          EDGE_DOMAIN: 'slots.test',
          EDGE_TLS: 'off',
          EDGE_HTTP_PORT: String(await freePort()),
          EDGE_SERVICE: 'web',
          EDGE_SPARE_PORT: String(spare),
          EDGE_DRAIN_S: '1',
        },
      });
    }
  });

  after(() => cleanUp(home, pids));

  const record = (name: string) =>
    readFileSync(path.join(home!, 'state', 'run', `${name}`), 'utf8').trim();

  it('a first start uses the manifest port; promote points current', async () => {
    const { services } = resultOf(ok(await manage(home!, 'good1', 'start')));
    expect(services[0]).to.include({ name: 'web', record: 'web', port: web });
    pids.add(services[0].pid);
    ok(await manage(home!, 'good1', 'health'));
    expect(resultOf(ok(await manage(home!, 'good1', 'promote')))).to.deep.equal({
      release: 'good1',
      drained: [],
    });
    expect(await readlink(path.join(home!, 'current'))).to.equal('releases/good1');
    expect(record('web.serving')).to.equal('web');
    expect(await body(web)).to.equal('one from hello-web\n');
  });

  it('the next release starts beside it on the spare port; promote drains the old one', async () => {
    const { services } = resultOf(ok(await manage(home!, 'good2', 'start')));
    expect(services[0]).to.include({ record: 'web.b', port: spare });
    pids.add(services[0].pid);
    // both answer until the switch
    expect(await body(web)).to.equal('one from hello-web\n');
    expect(await body(spare)).to.equal('two from hello-web\n');
    const health = resultOf(ok(await manage(home!, 'good2', 'health')));
    expect(health.services[0]).to.include({ http: true });
    const status = resultOf(ok(await manage(home!, 'good2', 'status')));
    expect(status.services[0].port, 'status shows the serving instance').to.equal(web);
    expect(resultOf(ok(await manage(home!, 'good2', 'promote')))).to.deep.equal({
      release: 'good2',
      drained: ['web'],
    });
    expect(record('web.serving')).to.equal('web.b');
    expect(await body(web)).to.match(/^error /);
    expect(await body(spare)).to.equal('two from hello-web\n');
    const after = resultOf(ok(await manage(home!, 'good2', 'status')));
    expect(after.services[0]).to.include({ running: true, port: spare });
  });

  it('a failed release is discarded; the serving one never stopped', async () => {
    const { services } = resultOf(ok(await manage(home!, 'bad', 'start')));
    expect(services[0]).to.include({ record: 'web', port: web });
    const r = await manage(home!, 'bad', 'health');
    expect(r.code).to.equal(1);
    expect(await body(spare)).to.equal('two from hello-web\n');
    expect(resultOf(ok(await manage(home!, 'bad', 'discard', '--all')))).to.deep.equal({
      stopped: ['web'],
    });
    expect(alive(services[0].pid)).to.equal(false);
    expect(existsSync(path.join(home!, 'state', 'run', 'web.pending'))).to.equal(false);
    // the previous release is put back: already running, so --resume keeps it
    const resumed = resultOf(ok(await manage(home!, 'good2', 'start', '--resume')));
    expect(resumed.services).to.deep.equal([]);
    ok(await manage(home!, 'good2', 'health'));
    expect(resultOf(ok(await manage(home!, 'good2', 'promote'))).drained).to.deep.equal([]);
    expect(await body(spare)).to.equal('two from hello-web\n');
    expect(await readlink(path.join(home!, 'current'))).to.equal('releases/good2');
  });

  it('start --resume starts a stopped release again, on the manifest port', async () => {
    ok(await manage(home!, 'good2', 'stop'));
    expect(await body(spare)).to.match(/^error /);
    const { services } = resultOf(ok(await manage(home!, 'good2', 'start', '--resume')));
    pids.add(services[0].pid);
    expect(services[0]).to.include({ record: 'web', port: web });
    ok(await manage(home!, 'good2', 'health'));
    ok(await manage(home!, 'good2', 'promote'));
    expect(record('web.serving')).to.equal('web');
    expect(await body(web)).to.equal('two from hello-web\n');
  });

  it('refuses unknown options with exit 2', async () => {
    for (const args of [
      ['start', '--x'],
      ['discard', 'x'],
    ]) {
      const r = await manage(home!, 'good2', ...args);
      expect(r.code, args.join(' ')).to.equal(2);
    }
  });
});
