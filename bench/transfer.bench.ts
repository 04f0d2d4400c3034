/**
 * Transfer benchmark: a 200 MB incompressible bundle file uploaded through the SSH transport's
 * putFile (connectSsh, real sshd on loopback) against `scp` of the same file to the same sshd.
 * Ratio in the same run, median of rounds, alternating so load hits both alike.
 * Run: npx tsx bench/transfer.bench.ts [rounds] [MB]
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { connectSsh } from '../shared/transports/ssh.js';
import { startSshd } from '../test/helpers/sshd.js';
import { median } from './pipeline.bench.js';
import { atMost, printTable, type BenchRow } from './table.js';

const run = promisify(execFile);

/** Writes `bytes` of random data (incompressible, as a bundle of assets is) in 4 MiB writes. */
async function randomFile(file: string, bytes: number): Promise<void> {
  const fh = await open(file, 'wx', 0o600);
  try {
    for (let done = 0; done < bytes;) {
      const n = Math.min(4 * 1024 * 1024, bytes - done);
      await fh.write(randomBytes(n));
      done += n;
    }
  } finally {
    await fh.close();
  }
}

const timed = async (fn: () => Promise<unknown>): Promise<number> => {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
};

/** Uploads the file `rounds` times each way and returns the table's row. */
export async function rows(rounds = 3, megabytes = 200): Promise<BenchRow[]> {
  const sshd = await startSshd();
  const dir = await mkdtemp(path.join(tmpdir(), 'stagecoach-bench-transfer-'));
  const file = path.join(dir, 'bundle.tar.gz');
  const remote = path.join(dir, 'remote');
  const put: number[] = [];
  const scp: number[] = [];
  try {
    await randomFile(file, megabytes * 1e6);
    const t = await connectSsh({
      host: sshd.host,
      port: sshd.port,
      user: sshd.user,
      keyPath: sshd.clientKeyPath,
      keysDir: path.dirname(sshd.clientKeyPath),
      expectedHostKey: sshd.hostKeyFingerprint,
      workdir: remote,
    });
    const scpArgs = (to: string): string[] => [
      ...['-q', '-P', String(sshd.port), '-i', sshd.clientKeyPath],
      ...['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null'],
      ...[file, `${sshd.user}@127.0.0.1:${to}`],
    ];
    try {
      for (let i = 0; i < rounds; i++) {
        // both sides start from a connected client: putFile on its open transport, scp
        // with its own handshake (what an operator's `scp` costs)
        put.push(await timed(() => t.putFile(file, `bundles/put-${i}.tar.gz`)));
        scp.push(await timed(() => run('scp', scpArgs(path.join(remote, `scp-${i}.tar.gz`)))));
        const sizes = await Promise.all(
          [`bundles/put-${i}.tar.gz`, `scp-${i}.tar.gz`].map((f) => stat(path.join(remote, f))),
        );
        if (sizes.some((s) => s.size !== megabytes * 1e6)) {
          throw new Error('an upload is incomplete');
        }
        await rm(path.join(remote, 'bundles'), { recursive: true, force: true });
        await rm(path.join(remote, `scp-${i}.tar.gz`), { force: true });
      }
    } finally {
      await t.close();
    }
  } finally {
    await sshd.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const [p, s] = [median(put), median(scp)];
  return [
    atMost(
      `upload of a ${megabytes} MB bundle vs \`scp\` of the same file`,
      p / s,
      1.0,
      `putFile ${p.toFixed(0)} ms vs scp ${s.toFixed(0)} ms, median of ${rounds}`,
    ),
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const [rounds, mb] = process.argv.slice(2).map(Number);
  printTable(await rows(rounds || 3, mb || 200));
  process.exit(0);
}
