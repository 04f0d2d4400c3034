/**
 * Finding 10 (issue 7), service logs: `state/logs/<service>.log` grew without bound. manage.sh
 * now rotates a log past STAGECOACH_LOG_MAX_BYTES (copy-truncate, .1 … .3) whenever it runs
 * start, status or health; the service keeps running and logging into the same descriptor.
 */
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  alive,
  assembleRelease,
  cleanUp,
  manageWith,
  ok,
  onPath,
  requireTools,
  resultOf,
} from '../helpers/target-release.js';

const LIMIT = 1024 * 1024;
const ENV = { STAGECOACH_LOG_MAX_BYTES: String(LIMIT) };
// 200 KiB lines with a counter in front, ten a second: 2 MB/s.
const NOISY =
  's=$(head -c 204800 /dev/zero | tr "\\0" x); i=0; ' +
  'while :; do i=$((i+1)); printf "line %d %s\\n" "$i" "$s"; sleep 0.1; done';

/** A TCP port that was free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until file grows past `bytes` (fails after 20 s). */
async function waitForSize(file: string, bytes: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (existsSync(file) && statSync(file).size > bytes) {
      return;
    }
    await sleep(100);
  }
  throw new Error(`${file} did not grow past ${bytes} bytes`);
}

/** The highest "line N" counter in a log's text. */
function lastCounter(text: string): number {
  let max = 0;
  for (const m of text.matchAll(/^line (\d+) /gm)) {
    max = Math.max(max, Number(m[1]));
  }
  return max;
}

describe('security: service logs are rotated by size (finding 10)', function () {
  let home: string | undefined;
  let logs: string;
  let log: string;
  let pid = 0;
  const pids = new Set<number>();

  before(async function () {
    requireTools(this, [
      [onPath('bash'), 'bash', 'bash'],
      [onPath('setsid'), 'setsid', 'util-linux'],
      [onPath('flock'), 'flock', 'util-linux'],
      [onPath('truncate'), 'truncate', 'coreutils'],
    ]);
    home = await mkdtemp(path.join(os.tmpdir(), 'stagecoach-logrot-'));
    logs = path.join(home, 'state', 'logs');
    log = path.join(logs, 'noisy.log');
    await assembleRelease(home, 'r1', {
      scenario: 'hello-web',
      services: [{ name: 'noisy', port: await freePort(), start: NOISY }],
    });
    ok(await manageWith(ENV, home, 'r1', 'setup'));
    const { services } = resultOf(ok(await manageWith(ENV, home, 'r1', 'start')));
    pid = services[0].pid as number;
    pids.add(pid);
  });

  after(async function () {
    await cleanUp(home, pids);
  });

  /** The names in state/logs that belong to the noisy service. */
  const logFiles = () =>
    readdirSync(logs)
      .filter((f) => f.startsWith('noisy.log'))
      .sort();

  it('status rotates a log past the limit, keeps at most 3 copies, and the service goes on', async function () {
    for (let round = 1; round <= 5; round++) {
      await waitForSize(log, 2 * LIMIT);
      const res = resultOf(ok(await manageWith(ENV, home!, 'r1', 'status')));
      const size = statSync(log).size;
      expect(size, `round ${round}: live log after status`).to.be.below(LIMIT);
      expect(res.services[0]).to.include({ name: 'noisy', pid, running: true });
      const files = logFiles();
      expect(files, `round ${round}`).to.include.members(['noisy.log', 'noisy.log.1']);
      expect(files.length, `round ${round}: ${files.join(' ')}`).to.be.at.most(4);
      for (const f of files) {
        expect(f).to.match(/^noisy\.log(\.[123])?$/);
      }
      expect(statSync(path.join(logs, 'noisy.log.1')).size).to.be.above(2 * LIMIT);
      expect(statSync(path.join(logs, 'noisy.log.1')).mode & 0o777).to.equal(0o600);
    }
    expect(logFiles()).to.deep.equal(['noisy.log', 'noisy.log.1', 'noisy.log.2', 'noisy.log.3']);
    // The rotated copies are in order (.3 oldest) and the live log goes on after .1.
    const counters = ['noisy.log.3', 'noisy.log.2', 'noisy.log.1'].map((f) =>
      lastCounter(readFileSync(path.join(logs, f), 'utf8')),
    );
    expect(counters[0]).to.be.below(counters[1]!);
    expect(counters[1]).to.be.below(counters[2]!);
    await waitForSize(log, 400 * 1024);
    const live = readFileSync(log, 'utf8');
    expect(live).to.match(
      /^==== .* log rotated at \d+ bytes \(limit 1048576\); earlier output in noisy\.log\.1$/m,
    );
    expect(lastCounter(live)).to.be.above(counters[2]!);
    // The file is not sparse: the service appends at the new end, not at its old offset.
    expect(statSync(log).size).to.be.below(2 * LIMIT);
    expect(alive(pid), 'service still running').to.equal(true);
  });

  it('health rotates too (even when it then finds the service unhealthy)', async function () {
    await waitForSize(log, 2 * LIMIT);
    const before = lastCounter(readFileSync(path.join(logs, 'noisy.log.1'), 'utf8'));
    // The noisy service serves no HTTP: health fails, after rotating.
    const r = await manageWith(ENV, home!, 'r1', 'health', '0');
    expect(r.code).to.equal(1);
    expect(statSync(log).size).to.be.below(LIMIT);
    expect(lastCounter(readFileSync(path.join(logs, 'noisy.log.1'), 'utf8'))).to.be.above(before);
    expect(logFiles()).to.have.length(4);
    expect(alive(pid)).to.equal(true);
  });

  it('start rotates the old log before the new process writes to it', async function () {
    await waitForSize(log, 2 * LIMIT);
    const { services } = resultOf(ok(await manageWith(ENV, home!, 'r1', 'start')));
    pid = services[0].pid as number;
    pids.add(pid);
    const live = readFileSync(log, 'utf8');
    // The old process's output went to .1; the new one starts counting again below the header.
    expect(live).to.match(/^==== .* log rotated at \d+ bytes[^\n]*\n\n==== .* starting noisy/);
    expect(live).to.match(/^line 1 x/m);
    expect(logFiles()).to.have.length(4);
  });

  it('leaves a log that is a symlink alone (never truncates what it points at)', async function () {
    ok(await manageWith(ENV, home!, 'r1', 'stop'));
    const outside = path.join(home!, 'outside.txt');
    await writeFile(outside, 'x'.repeat(2 * LIMIT));
    await rm(log);
    await symlink(outside, log);
    ok(await manageWith(ENV, home!, 'r1', 'status'));
    expect(statSync(outside).size).to.equal(2 * LIMIT);
    await rm(log);
  });

  it('refuses a STAGECOACH_LOG_MAX_BYTES that is not a number (exit 2)', async function () {
    await writeFile(log, 'x');
    const r = await manageWith({ STAGECOACH_LOG_MAX_BYTES: '1k' }, home!, 'r1', 'status');
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain('STAGECOACH_LOG_MAX_BYTES');
  });
});
