/**
 * SSH benchmark: execute → deployed of hello-web over SSH (real sshd on loopback) against the
 * same deployment to a local target (baseline), and a re-execute over SSH (bundle cached, upload
 * and setup skipped) against the first. Ratios in the same run, no asserts; the deployment row is
 * read every 10 ms and the inspect after each deploy waited out (pipeline.bench.ts's timedAction).
 * Run: npx tsx bench/ssh.bench.ts [rounds]
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildManifest } from '../test/factories.js';
import { createHarness } from '../test/helpers/harness.js';
import { serve } from '../test/helpers/http.js';
import { freePort } from '../test/helpers/ports.js';
import { startSshd } from '../test/helpers/sshd.js';
import { median, timedAction } from './pipeline.bench.js';
import { atMost, printTable, type BenchRow } from './table.js';

/** Medians (ms) of the local baseline, the first SSH deploy and the cached SSH re-execute. */
interface SshFigures {
  local: number;
  ssh: number;
  again: number;
}

async function measure(rounds: number): Promise<SshFigures> {
  const sshd = await startSshd();
  const remote = await mkdtemp(path.join(tmpdir(), 'stagecoach-bench-'));
  await chmod(remote, 0o711);
  const h = await createHarness('redis');
  h.startWorkers();
  const api = await serve(h.app);
  const local: number[] = [];
  const ssh: number[] = [];
  const again: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const target = {
        type: 'ssh',
        host: '127.0.0.1',
        port: sshd.port,
        user: sshd.user,
        key_path: sshd.clientKeyPath,
        workdir: path.join(remote, `r${i}`),
      };
      for (const [t, out] of [
        [{ type: 'local', workdir: `targets/r${i}` }, local],
        [target, ssh],
      ] as const) {
        const manifest = buildManifest({ ports: { web: await freePort() }, target: t as never });
        const id = (await api.call('POST', '/api/v1/deployments', { manifest })).body.deployment.id;
        out.push(await timedAction(api, id, 'execute', h.db));
        if (out === ssh) {
          again.push(await timedAction(api, id, 'execute', h.db));
        }
        await api.call('POST', `/api/v1/deployments/${id}/stop`, {});
        await api.waitFor(id, ['stopped']);
      }
    }
  } finally {
    await api.close();
    await h.close();
    await sshd.stop();
    await rm(remote, { recursive: true, force: true });
  }
  return { local: median(local), ssh: median(ssh), again: median(again) };
}

const fmt = (ms: number): string => `${ms.toFixed(0)} ms`;

/** The two SSH rows of `npm run bench` (issue 10's targets). */
export async function rows(rounds = 3): Promise<BenchRow[]> {
  return toRows(await measure(rounds));
}

function toRows(f: SshFigures): BenchRow[] {
  return [
    atMost(
      'first deploy over SSH (loopback sshd) vs local target',
      f.ssh / f.local,
      1.5,
      `${fmt(f.ssh)} vs ${fmt(f.local)}`,
    ),
    atMost(
      're-execute over SSH, everything cached, vs first SSH deploy',
      f.again / f.ssh,
      0.4,
      `${fmt(f.again)} vs ${fmt(f.ssh)}`,
    ),
  ];
}

/** Runs the rounds and prints the figures and the table of ratios. */
export async function main(rounds = 3): Promise<void> {
  const f = await measure(rounds);
  console.log(`ssh bench: hello-web, execute → deployed, median of ${rounds} rounds`);
  console.log(`local target (baseline)          ${fmt(f.local).padStart(9)}  1.00 × local`);
  console.log(
    `SSH target, first deploy         ${fmt(f.ssh).padStart(9)}  ${(f.ssh / f.local).toFixed(2)} × local`,
  );
  console.log(
    `SSH target, re-execute (cached)  ${fmt(f.again).padStart(9)}  ${(f.again / f.ssh).toFixed(2)} × first SSH deploy`,
  );
  printTable(toRows(f));
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  await main(Number(process.argv[2]) || 3);
  process.exit(0);
}
