/**
 * Finding 2 of the security review: `key_path` may only name a regular file of at most 64 KiB
 * inside SSH_KEYS_DIR. Devices (`/dev/zero` grew the worker to GBs, `/dev/ptmx` blocked the
 * file-I/O pool so the API hung), FIFOs, big files and paths outside the directory fail fast
 * with `ssh_key_unreadable`, and the message never tells whether a file outside exists.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TransportError } from '../../shared/transports/errors.js';
import { connectSsh, type SshConnectOptions } from '../../shared/transports/ssh.js';
import { buildManifest } from '../factories.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { serve, type ApiClient } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { startRemoteHost, type RemoteHost } from '../helpers/remote-host.js';
import { requireBinary, SSHD_BINARY, startSshd, type Sshd } from '../helpers/sshd.js';

const MB = 1024 * 1024;
/** RSS growth that would mean a key file was read without a bound. */
const RSS_LIMIT = 64 * MB;

/** Files in the keys dir a manifest author must not be able to use as a key. */
async function plantTraps(dir: string): Promise<void> {
  execFileSync('mkfifo', [path.join(dir, 'fifo'), path.join(dir, 'fifo2')]);
  await writeFile(path.join(dir, 'big'), Buffer.alloc(MB, 'A'));
  await symlink('/etc/passwd', path.join(dir, 'to-passwd'));
  await symlink('/dev/zero', path.join(dir, 'to-zero'));
  await symlink('/nonexistent/key', path.join(dir, 'to-missing'));
}

/** Awaits a TransportError `ssh_key_unreadable` within `ms`. */
async function unreadable(promise: Promise<unknown>, ms = 3_000): Promise<TransportError> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const slow = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([promise, slow]);
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(TransportError);
    expect((err as TransportError).code, String(err)).to.equal('ssh_key_unreadable');
    expect(Date.now() - started).to.be.below(ms);
    return err as TransportError;
  } finally {
    clearTimeout(timer);
  }
  return expect.fail('expected ssh_key_unreadable');
}

describe('security: key_path is confined and read safely', function () {
  this.timeout(60_000);

  describe('connectSsh (real sshd)', () => {
    let sshd: Sshd;
    const options = (overrides: Partial<SshConnectOptions>): SshConnectOptions =>
      ({
        host: sshd.host,
        port: sshd.port,
        user: sshd.user,
        keyPath: sshd.clientKeyPath,
        keysDir: sshd.dir,
        workdir: path.join(sshd.dir, 'work'),
        connectTimeoutMs: 3_000,
        ...overrides,
      }) as SshConnectOptions;

    before(async function () {
      requireBinary(SSHD_BINARY, 'openssh-server', this);
      sshd = await startSshd();
      await plantTraps(sshd.dir);
    });
    after(async () => {
      await sshd?.stop();
    });

    it('connects with a key inside SSH_KEYS_DIR, by absolute or relative path', async () => {
      for (const keyPath of [sshd.clientKeyPath, 'client_key']) {
        const t = await connectSsh(options({ keyPath }));
        expect((await t.exec(['true'])).code).to.equal(0);
        await t.close();
      }
    });

    it('refuses /dev/zero and /dev/ptmx fast, without growing memory, even with SSH_KEYS_DIR=/dev', async () => {
      const base = process.memoryUsage().rss;
      for (const keyPath of ['/dev/zero', '/dev/ptmx', '/dev/urandom']) {
        const err = await unreadable(connectSsh(options({ keyPath, keysDir: '/dev' })));
        expect(err.message).to.match(/not a regular file/);
        expect(process.memoryUsage().rss - base).to.be.below(RSS_LIMIT);
      }
    });

    it('refuses a FIFO and a 1 MiB file inside the directory, saying why', async () => {
      const fifo = await unreadable(connectSsh(options({ keyPath: path.join(sshd.dir, 'fifo') })));
      expect(fifo.message).to.match(/not a regular file/);
      const big = await unreadable(connectSsh(options({ keyPath: path.join(sshd.dir, 'big') })));
      expect(big.message).to.match(/64 KiB/);
    });

    it('answers the same for a missing file, a file outside and a symlink out of the directory', async () => {
      const given = [
        '/etc/passwd',
        '/nonexistent/key',
        '/dev/zero',
        path.join(sshd.dir, 'to-passwd'),
        path.join(sshd.dir, 'to-missing'),
        path.join(sshd.dir, 'to-zero'),
        path.join(sshd.dir, 'missing'),
        path.join(sshd.dir, '..', path.basename(sshd.dir), '..', 'etc-passwd'),
      ];
      const texts = new Set<string>();
      for (const keyPath of given) {
        const err = await unreadable(connectSsh(options({ keyPath })));
        texts.add(`${err.message}|${err.hint}`.split(keyPath).join('<key>'));
        expect(err.cause).to.equal(undefined);
      }
      expect([...texts]).to.have.length(1);
    });
  });

  describe('through the API and the workers (real sshd)', () => {
    let h: Harness;
    let api: ApiClient;
    let host: RemoteHost;

    before(async function () {
      requireBinary(SSHD_BINARY, 'openssh-server', this);
      host = await startRemoteHost();
      await plantTraps(host.sshd.dir);
      // four stages may read keys at once: before the fix, four blocked reads filled the pool
      h = await createHarness('redis', { SSH_KEYS_DIR: host.sshd.dir, HOST_CONCURRENCY: '4' });
      h.startWorkers();
      api = await serve(h.app);
    });
    after(async () => {
      await api?.close();
      await h?.close();
      await host?.close();
    });

    async function create(name: string, keyPath: string): Promise<string> {
      const manifest = buildManifest({
        ports: { web: await freePort() },
        health: { timeout_s: 20 },
        target: host.target(name, { key_path: keyPath }) as never,
      });
      const started = Date.now();
      const res = await api.call('POST', '/api/v1/deployments', { manifest, execute: true });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(Date.now() - started, 'POST /deployments answered slowly').to.be.below(3_000);
      return res.body.deployment.id as string;
    }

    it('fails devices, FIFOs, big files and paths outside at ssh_connect, fast, and the API stays responsive', async () => {
      const base = process.memoryUsage().rss;
      const traps = ['/dev/ptmx', '/dev/zero', 'fifo', 'fifo2', 'big', 'to-zero', '/etc/passwd'];
      const ids: string[] = [];
      for (const [i, trap] of traps.entries()) {
        ids.push(
          await create(`trap${i}`, trap.startsWith('/') ? trap : `${host.sshd.dir}/${trap}`),
        );
      }
      for (const id of ids) {
        const d = await api.waitFor(id, ['failed', 'deployed'], 20_000);
        expect(d, JSON.stringify(d)).to.include({
          status: 'failed',
          error_step: 'ssh_connect',
          error_code: 'ssh_key_unreadable',
        });
        // refused once, not retried (before, the blocked job started over after a restart)
        const { body } = await api.call('GET', `/api/v1/deployments/${id}/history`);
        const starts = (body.events as { kind: string; stage: string }[]).filter(
          (e) => e.kind === 'stage_started' && e.stage === 'setup',
        );
        expect(starts).to.have.length(1);
      }
      // the pool is free: creating still answers at once
      await create('after', '/nonexistent/key');
      expect(process.memoryUsage().rss - base).to.be.below(RSS_LIMIT);
    });

    it('deploys with a key inside SSH_KEYS_DIR', async () => {
      const id = await create('good', host.sshd.clientKeyPath);
      const d = await api.waitFor(id, ['failed', 'deployed'], 120_000);
      expect(d.status, d.error_message).to.equal('deployed');
      await api.call('POST', `/api/v1/deployments/${id}/stop`, {});
      await api.waitFor(id, ['stopped'], 60_000);
    });
  });
});
