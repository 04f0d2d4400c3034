import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { TransportError } from '../../../shared/transports/errors.js';
import {
  connectSsh,
  type SshConnectOptions,
  type SshTransport,
} from '../../../shared/transports/ssh.js';
import { OUTPUT_TAIL_BYTES } from '../../../shared/transports/types.js';
import { makeTempDir, removeTempDir } from '../../factories.js';
import { freePort } from '../../helpers/ports.js';
import { requireBinary, SSHD_BINARY, startSshd, type Sshd } from '../../helpers/sshd.js';

/** Arguments a remote shell must pass through untouched. */
const TRICKY = [
  '',
  'plain',
  'two  words ',
  "it's",
  '"double"',
  '$(echo pwned)',
  '`id`',
  '${HOME}',
  'a;b && c || d | e > f',
  'line1\nline2\n',
  'tab\there',
  'back\\slash\\',
  '*',
  '-n',
  '--',
  'A=b',
  '~',
  '%s %d',
  'héllo wörld ✓ 日本語 🚀',
];

function options(sshd: Sshd, overrides: Partial<SshConnectOptions> = {}): SshConnectOptions {
  return {
    host: sshd.host,
    port: sshd.port,
    user: sshd.user,
    keyPath: sshd.clientKeyPath,
    // the key and the tests' other key files live in temp dirs
    keysDir: os.tmpdir(),
    workdir: path.join(sshd.dir, 'work'),
    ...overrides,
  };
}

/** Awaits a rejection with a TransportError of `code`. */
async function rejectsWith(promise: Promise<unknown>, code: string): Promise<TransportError> {
  try {
    await promise;
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(TransportError);
    expect((err as TransportError).code, String(err)).to.equal(code);
    return err as TransportError;
  }
  return expect.fail(`expected a TransportError ${code}`);
}

/** Writes `mb` MiB of random bytes; resolves with the file's sha256. */
async function randomFile(file: string, mb: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(file);
  for (let i = 0; i < mb; i++) {
    const chunk = randomBytes(1024 * 1024);
    hash.update(chunk);
    if (!out.write(chunk)) {
      await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    }
  }
  await new Promise<void>((resolve, reject) => out.once('error', reject).end(() => resolve()));
  return hash.digest('hex');
}

/** Pids on the target whose command line starts with `pattern` (a pgrep -f regex). */
async function remotePids(t: SshTransport, pattern: string): Promise<string[]> {
  const { stdout } = await t.exec(['pgrep', '-f', pattern]);
  return stdout.split('\n').filter(Boolean);
}

async function until(check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error('condition not met in time');
    }
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('SshTransport against a real sshd', function () {
  let sshd: Sshd;
  let t: SshTransport;
  let local: string;

  before(async function () {
    requireBinary(SSHD_BINARY, 'openssh-server', this);
    sshd = await startSshd();
    local = await makeTempDir('stagecoach-ssh-local-');
    t = await connectSsh(options(sshd));
  });

  after(async () => {
    await t?.close();
    await sshd?.stop();
    await removeTempDir(local);
  });

  describe('exec', () => {
    it('streams stdout and stderr and returns the exit code', async () => {
      const chunks: [string, string][] = [];
      const result = await t.exec(['sh', '-c', 'echo out; echo err >&2; exit 3'], {
        onOutput: (stream, chunk) => chunks.push([stream, chunk]),
      });
      expect(result).to.deep.equal({ code: 3, signal: null, stdout: 'out\n', stderr: 'err\n' });
      expect(
        chunks
          .filter(([s]) => s === 'stdout')
          .map(([, c]) => c)
          .join(''),
      ).to.equal('out\n');
      expect(
        chunks
          .filter(([s]) => s === 'stderr')
          .map(([, c]) => c)
          .join(''),
      ).to.equal('err\n');
      expect((await t.exec(['true'])).code).to.equal(0);
    });

    it('streams every chunk but keeps a bounded tail', async () => {
      let streamed = '';
      const result = await t.exec(['seq', '1', '200000'], {
        onOutput: (_stream, chunk) => (streamed += chunk),
      });
      expect(streamed.split('\n')).to.have.length(200_001);
      expect(result.stdout.length).to.be.at.most(OUTPUT_TAIL_BYTES);
      expect(result.stdout.endsWith('199999\n200000\n')).to.equal(true);
    });

    it('reports a signal death', async () => {
      const result = await t.exec(['sh', '-c', 'kill -TERM $$']);
      expect(result).to.include({ code: null, signal: 'SIGTERM' });
    });

    it('passes tricky argv through exactly', async () => {
      const { stdout, code } = await t.exec(['printf', '%s\\0', ...TRICKY]);
      expect(code).to.equal(0);
      // the NUL separators arrive as U+FFFD (output is text: outputText)
      expect(stdout.split('\uFFFD').slice(0, -1)).to.deep.equal(TRICKY);
    });

    it('runs in cwd (relative to the workdir) with the given env', async () => {
      await t.exec(['mkdir', '-p', 'sub dir']);
      const env = { FOO: "it's $(x) `y`", BAR: 'a b\nc', EMPTY: '' };
      const { stdout } = await t.exec(
        ['sh', '-c', 'pwd; printf "%s|%s|%s" "$FOO" "$BAR" "$EMPTY"'],
        {
          cwd: 'sub dir',
          env,
        },
      );
      expect(stdout).to.equal(`${t.workdir}/sub dir\n${env.FOO}|${env.BAR}|`);
      await t.exec(['touch', 'marker'], { cwd: 'sub dir' });
      expect(existsSync(path.join(t.workdir, 'sub dir', 'marker'))).to.equal(true);
    });

    it('refuses a cwd outside the workdir and a bad env name', async () => {
      for (const cwd of ['..', '/etc']) {
        let error: unknown;
        await t.exec(['pwd'], { cwd }).catch((err) => (error = err));
        expect(String(error)).to.match(/escapes the target directory/);
      }
      let error: unknown;
      await t.exec(['true'], { env: { 'A;B': 'x' } }).catch((err) => (error = err));
      expect(String(error)).to.match(/invalid environment variable name/);
    });

    it('abort kills the remote command and returns promptly', async () => {
      const ac = new AbortController();
      const running = t.exec(['sleep', '30.517'], { signal: ac.signal });
      await until(async () => (await remotePids(t, '^sleep 30.517')).length === 1);
      const started = Date.now();
      ac.abort();
      const result = await running;
      expect(Date.now() - started).to.be.below(5_000);
      expect(result).to.include({ code: null, signal: 'SIGKILL' });
      await until(async () => (await remotePids(t, '^sleep 30.517')).length === 0, 2_000);
    });
  });

  describe('workdir', () => {
    it('resolves ~/x under the remote home and creates it', async () => {
      const home = (await t.exec(['sh', '-c', 'printf %s "$HOME"'])).stdout;
      const name = `.stagecoach-ssh-test-${randomBytes(4).toString('hex')}`;
      const other = await connectSsh(options(sshd, { workdir: `~/${name}/x/` }));
      try {
        expect(other.workdir).to.equal(`${home}/${name}/x`);
        expect((await other.exec(['test', '-d', other.workdir])).code).to.equal(0);
        expect((await other.exec(['pwd'])).stdout).to.equal(`${home}/${name}/x\n`);
      } finally {
        await other.exec(['rm', '-rf', '--', `${home}/${name}`]);
        await other.close();
      }
    });

    it('keeps an absolute workdir as is', () => {
      expect(t.workdir).to.equal(path.join(sshd.dir, 'work'));
      expect(t.describe).to.equal(`ssh:${sshd.user}@127.0.0.1:${sshd.port}`);
      expect(t.kind).to.equal('ssh');
    });
  });

  describe('files', () => {
    it('putFile streams a 50 MB file atomically; the remote hash matches', async function () {
      const file = path.join(local, 'big.bin');
      const hash = await randomFile(file, 50);
      const before = process.memoryUsage().rss;
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
      try {
        await t.putFile(file, 'upload/deep/big.bin');
      } finally {
        clearInterval(sampler);
      }
      const { stdout } = await t.exec(['sha256sum', 'upload/deep/big.bin']);
      expect(stdout.split(' ')[0]).to.equal(hash);
      expect((await t.exec(['ls', '-A', 'upload/deep'])).stdout).to.equal('big.bin\n');
      // fastPut reads in small windows: nowhere near the file's size in memory
      expect(peak - before, 'rss growth').to.be.below(40 * 1024 * 1024);
    });

    it('putFile replaces an existing file', async () => {
      const file = path.join(local, 'small.txt');
      await writeFile(file, 'first');
      await t.putFile(file, 'replace.txt');
      await writeFile(file, 'second');
      await t.putFile(file, 'replace.txt');
      expect((await t.readFile('replace.txt')).toString()).to.equal('second');
    });

    it('readFile returns exact bytes and ENOENT for a missing file', async () => {
      const bytes = Buffer.concat([
        Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
        randomBytes(100_000),
      ]);
      await writeFile(path.join(t.workdir, 'bytes.bin'), bytes);
      expect((await t.readFile('bytes.bin')).equals(bytes)).to.equal(true);
      let error: unknown;
      await t.readFile('missing.bin').catch((err) => (error = err));
      expect((error as { code?: string }).code).to.equal('ENOENT');
    });
  });

  describe('connecting', () => {
    it('accepts the expected host key and exposes the fingerprint', async () => {
      expect(t.hostKey).to.equal(sshd.hostKeyFingerprint);
      const other = await connectSsh(options(sshd, { expectedHostKey: sshd.hostKeyFingerprint }));
      expect(other.hostKey).to.equal(sshd.hostKeyFingerprint);
      await other.close();
      await other.close();
    });

    it('rejects another host key with host_key_mismatch', async () => {
      const wrong = `SHA256:${randomBytes(32).toString('base64').replace(/=+$/, '')}`;
      const err = await rejectsWith(
        connectSsh(options(sshd, { expectedHostKey: wrong })),
        'host_key_mismatch',
      );
      expect(err.message).to.include(wrong).and.include(sshd.hostKeyFingerprint);
      expect(err.hint).to.be.a('string');
    });

    it('reports a key the server does not accept as ssh_auth_failed', async () => {
      const err = await rejectsWith(
        connectSsh(options(sshd, { keyPath: sshd.wrongKeyPath })),
        'ssh_auth_failed',
      );
      expect(err.message).to.include(`${sshd.user}@127.0.0.1:${sshd.port}`);
    });

    it('reports a closed port as ssh_unreachable', async () => {
      const port = await freePort();
      const err = await rejectsWith(connectSsh(options(sshd, { port })), 'ssh_unreachable');
      expect(err.message).to.include(`127.0.0.1:${port}`).and.include('refused');
    });

    it('times out on a server that never speaks SSH', async () => {
      const silent = net.createServer(() => {});
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = silent.address() as net.AddressInfo;
        await rejectsWith(
          connectSsh(options(sshd, { port, connectTimeoutMs: 500 })),
          'ssh_unreachable',
        );
      } finally {
        silent.close();
      }
    });

    it('reports missing, public and non-key files as ssh_key_unreadable without their contents', async () => {
      await rejectsWith(
        connectSsh(options(sshd, { keyPath: path.join(local, 'nope') })),
        'ssh_key_unreadable',
      );
      await rejectsWith(
        connectSsh(options(sshd, { keyPath: `${sshd.clientKeyPath}.pub` })),
        'ssh_key_unreadable',
      );
      const secret = path.join(local, 'not-a-key');
      await writeFile(secret, 'TOP-SECRET-VALUE 123\n');
      const err = await rejectsWith(
        connectSsh(options(sshd, { keyPath: secret })),
        'ssh_key_unreadable',
      );
      expect(`${err.message} ${err.hint} ${String(err.cause)}`).not.to.include('TOP-SECRET');
    });

    it('reports no key and no agent as ssh_no_credentials', async () => {
      await rejectsWith(connectSsh(options(sshd, { keyPath: undefined })), 'ssh_no_credentials');
    });

    it('authenticates through an ssh-agent', async function () {
      requireBinary('/usr/bin/ssh-agent', 'openssh-client', this);
      const socket = path.join(local, 'agent.sock');
      const agent: ChildProcess = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
      try {
        await until(() => existsSync(socket));
        await new Promise<void>((resolve, reject) =>
          spawn('ssh-add', ['-q', sshd.clientKeyPath], {
            env: { SSH_AUTH_SOCK: socket },
            stdio: 'ignore',
          })
            .once('exit', (code) =>
              code === 0 ? resolve() : reject(new Error(`ssh-add: ${code}`)),
            )
            .once('error', reject),
        );
        const other = await connectSsh(options(sshd, { keyPath: undefined, agentSocket: socket }));
        expect((await other.exec(['echo', 'via agent'])).stdout).to.equal('via agent\n');
        await other.close();
      } finally {
        agent.kill('SIGKILL');
      }
    });
  });
});

describe('SshTransport when the server dies', function () {
  this.timeout(60_000);
  let sshd: Sshd;
  let local: string;
  let bigFile: string;

  before(async function () {
    requireBinary(SSHD_BINARY, 'openssh-server', this);
    local = await makeTempDir('stagecoach-ssh-kill-');
    bigFile = path.join(local, 'huge.bin');
    await randomFile(bigFile, 200);
  });

  beforeEach(async () => {
    sshd = await startSshd();
  });

  afterEach(async () => {
    await sshd?.stop();
  });

  after(async () => {
    await removeTempDir(local);
  });

  it('a putFile of 200 MB rejects with ssh_connection_lost', async () => {
    const t = await connectSsh(options(sshd));
    const part = path.join(t.workdir, 'huge.bin.part');
    const lost = rejectsWith(t.putFile(bigFile, 'huge.bin'), 'ssh_connection_lost');
    await until(() => existsSync(part) && statSync(part).size > 0, 30_000);
    await sshd.killAll();
    await lost;
    expect(existsSync(path.join(t.workdir, 'huge.bin'))).to.equal(false);
    await t.close();
  });

  it('a running exec rejects with ssh_connection_lost', async () => {
    const t = await connectSsh(options(sshd));
    const lost = rejectsWith(t.exec(['sleep', '30']), 'ssh_connection_lost');
    await until(async () => (await remotePids(t, '^sleep 30$')).length > 0);
    await sshd.killAll();
    await lost;
    await rejectsWith(t.exec(['true']), 'ssh_connection_lost');
    await t.close();
  });

  it('a peer that stops answering is detected by keepalive', async () => {
    const t = await connectSsh(options(sshd, { keepaliveIntervalMs: 200 }));
    const lost = rejectsWith(t.exec(['sleep', '30']), 'ssh_connection_lost');
    await until(async () => (await remotePids(t, '^sleep 30$')).length > 0);
    sshd.freezeAll();
    await lost;
    await t.close();
  });
});
