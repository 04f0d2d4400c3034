/**
 * The CLI's failures read as sentences with a stable exit code: bad input (2), refusals (3),
 * an unreachable or foreign server (4). The CLI runs as its own process against a real API.
 */
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildManifest } from '../factories.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { freePort } from '../helpers/ports.js';
import { manifestFile, runCli, STACK_LINE, type CliResult } from './run-cli.js';

const TOKEN = 'cli-test-token-0123456789';
const MISSING_ID = '00000000-0000-4000-8000-000000000000';

/** Listens on a free loopback port; returns the base URL. */
async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** The exit code and one line on stderr, never a stack trace. */
function expectSentence(r: CliResult, code: number, text: string | RegExp): void {
  const all = JSON.stringify(r);
  expect(r.code, all).to.equal(code);
  if (typeof text === 'string') {
    expect(r.stderr, all).to.contain(text);
  } else {
    expect(r.stderr, all).to.match(text);
  }
  expect(r.stderr + r.stdout, all).not.to.match(STACK_LINE);
}

describe('stagecoach CLI: errors as sentences and exit codes', function () {
  this.timeout(60_000);
  let h: Harness;
  let api: Server;
  let foreign: Server;
  let url: string;
  let foreignUrl: string;
  let dir: string;

  before(async () => {
    // a token is configured: requests without one are refused (401)
    h = await createHarness('redis', { API_TOKEN: TOKEN });
    api = h.app.listen(0, '127.0.0.1');
    url = await new Promise((resolve) =>
      api.on('listening', () =>
        resolve(`http://127.0.0.1:${(api.address() as { port: number }).port}`),
      ),
    );
    foreign = createServer((_req, res) => res.end('<html>not stagecoach</html>'));
    foreignUrl = await listen(foreign);
    dir = await mkdtemp(path.join(tmpdir(), 'stagecoach-cli-'));
  });

  after(async () => {
    api?.closeAllConnections();
    await new Promise((resolve) => api?.close(resolve));
    await new Promise((resolve) => foreign?.close(resolve));
    await h?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const withToken = { STAGECOACH_TOKEN: TOKEN };

  it('a missing manifest file: exit 2', async () => {
    const missing = path.join(dir, 'nope.json');
    const r = await runCli(['deploy', missing], url, withToken);
    expectSentence(r, 2, `stagecoach: cannot read the manifest ${missing}: no such file`);
  });

  it('a manifest that is not JSON, or not an object: exit 2', async () => {
    const bad = path.join(dir, 'bad.json');
    await writeFile(bad, '{"version": 1,');
    expectSentence(await runCli(['deploy', bad], url, withToken), 2, /is not valid JSON: /);
    const list = await manifestFile(dir, 'list', [1, 2]);
    expectSentence(
      await runCli(['deploy', list], url, withToken),
      2,
      'must hold a JSON object (a deployment manifest), not an array',
    );
  });

  it('a manifest the API refuses: exit 2 with its code and each issue', async () => {
    const file = await manifestFile(dir, 'unknown-key', { ...buildManifest(), colour: 'red' });
    const r = await runCli(['deploy', file, '--follow'], url, withToken);
    expectSentence(r, 2, '(invalid_manifest, HTTP 422)');
    expect(r.stderr).to.contain('  - Unrecognized key: "colour"');
  });

  it('an unknown deployment: exit 3 with not_found', async () => {
    for (const args of [
      ['status', MISSING_ID],
      ['logs', MISSING_ID, '--follow'],
      ['retry', 'x'],
    ]) {
      const r = await runCli(args, url, withToken);
      expectSentence(r, 3, 'the API refused: deployment not found (not_found, HTTP 404)');
    }
  });

  it('STAGECOACH_TOKEN is sent; without it the API refuses with exit 3', async () => {
    expectSentence(await runCli(['list'], url), 3, '(unauthorized, HTTP 401)');
    const ok = await runCli(['list'], url, withToken);
    expect(ok.code, ok.stderr).to.equal(0);
    expect(ok.stdout).to.equal('no deployments\n');
    const json = await runCli(['list', '--json', '--token', TOKEN], url);
    expect(JSON.parse(json.stdout)).to.deep.equal({ deployments: [], next_cursor: null });
  });

  it('nothing listening: exit 4, naming the address', async () => {
    const port = await freePort();
    const r = await runCli(['status', MISSING_ID], `http://127.0.0.1:${port}`);
    expectSentence(
      r,
      4,
      `stagecoach: cannot reach stagecoach at http://127.0.0.1:${port}: connection refused (ECONNREFUSED)`,
    );
  });

  it('a server that is not stagecoach: exit 4', async () => {
    const r = await runCli(['list'], foreignUrl);
    expectSentence(r, 4, 'with something that is not JSON');
  });

  it("usage errors: exit 2 with commander's message; --help exits 0", async () => {
    expectSentence(await runCli(['deploy'], url), 2, "missing required argument 'manifest'");
    expectSentence(await runCli(['bogus'], url), 2, "unknown command 'bogus'");
    expectSentence(await runCli(['--url', 'nope', 'list'], url), 2, '"nope" is not a URL');
    const help = await runCli(['--help'], url);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.contain('Exit codes:').and.contain('deploy [options] <manifest>');
  });
});
