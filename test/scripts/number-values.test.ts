/**
 * Numbers in a release's config are data: a port or a time with a leading zero (which bash
 * arithmetic would read as a bad octal number) is refused with exit 2 and a clear message, and an
 * HTTP status like 099 from a service is read in base 10.
 */
import { expect } from 'chai';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../helpers/ports.js';
import { assembleRelease, cleanUp, lastLine, manage } from '../helpers/target-release.js';

describe('scripts/target/manage.sh: numbers with a leading zero', function () {
  this.timeout(60_000);
  let home: string | undefined;
  const pids = new Set<number>();

  before(async () => {
    home = await mkdtemp(path.join(tmpdir(), 'stagecoach-numbers-'));
  });

  after(() => cleanUp(home, pids));

  it('refuses SERVICE_PORT 08 with exit 2', async () => {
    await assembleRelease(home!, 'port', {
      scenario: 'hello-web',
      services: [{ name: 'web', port: 8080, start: 'node server.js' }],
    });
    // rewrite the service's port as text, the way a hand-edited config could hold it
    await writeFile(
      path.join(home!, 'releases', 'port', 'config', 'services', 'web.env'),
      "SERVICE_NAME=web\nSERVICE_PORT=08\nSERVICE_START='node server.js'\nSERVICE_HEALTH=/health\n",
    );
    const r = await manage(home!, 'port', 'start');
    expect(r.code, r.stderr).to.equal(2);
    expect(lastLine(r.stderr)).to.contain("SERVICE_PORT '08' is not a port");
  });

  it('refuses an edge port or drain time with a leading zero with exit 2', async () => {
    for (const [key, value] of [
      ['EDGE_HTTP_PORT', '080'],
      ['EDGE_DRAIN_S', '010'],
    ]) {
      const name = `edge-${key.toLowerCase()}`;
      const web = await freePort();
      await assembleRelease(home!, name, {
        scenario: 'hello-web',
        services: [{ name: 'web', port: web, start: 'node server.js' }],
        edge: {
          EDGE_DOMAIN: 'numbers.test',
          EDGE_TLS: 'off',
          EDGE_HTTP_PORT: '8080',
          EDGE_SERVICE: 'web',
          EDGE_DRAIN_S: '1',
          [key]: value,
        },
      });
      const r = await manage(home!, name, 'status');
      expect(r.code, `${key}=${value}: ${r.stderr}`).to.equal(2);
      expect(lastLine(r.stderr)).to.contain(`${key} '${value}'`);
    }
  });

  it('reads an HTTP status of 099 in base 10 (health fails, naming it)', async () => {
    const port = await freePort();
    await assembleRelease(home!, 'odd', {
      scenario: 'hello-web',
      services: [{ name: 'web', port, start: 'node odd.cjs' }],
      healthTimeout: 1,
    });
    // a "service" answering a status line bash would misread as octal
    await writeFile(
      path.join(home!, 'releases', 'odd', 'scenario', 'odd.cjs'),
      "require('node:net').createServer((s) => s.on('error', () => {}).on('data', () => s.end('HTTP/1.1 099 Odd\\r\\n\\r\\n'))).listen(Number(process.env.PORT));\n",
    );
    const started = await manage(home!, 'odd', 'start');
    expect(started.code, started.stderr).to.equal(0);
    const r = await manage(home!, 'odd', 'health', '1');
    expect(r.code, r.stderr).to.equal(1);
    expect(lastLine(r.stderr), r.stderr).to.contain('answered 99');
    await manage(home!, 'odd', 'stop');
  });
});
