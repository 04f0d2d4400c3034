import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'ssh2';
import { TransportError } from '../../../shared/transports/errors.js';
import { connectSsh, type SshTransport } from '../../../shared/transports/ssh.js';
import type { ChannelHooks } from '../../../shared/transports/ssh-exec.js';
import { MAX_SHELLS, ShellPool } from '../../../shared/transports/ssh-shell-pool.js';
import { SHELL_COMMAND } from '../../../shared/transports/ssh-shell.js';
import { requireBinary, SSHD_BINARY, startSshd, type Sshd } from '../../helpers/sshd.js';
import { pollUntil } from '../../helpers/supervision.js';

const HOOKS: ChannelHooks = {
  lost: () => new Error('lost'),
  openFailed: (err) => new Error(`open failed: ${String(err)}`),
};

/** The pid of the persistent shell that ran the command (its parent). */
async function shellPid(t: SshTransport): Promise<number> {
  return Number((await t.exec(['sh', '-c', 'echo $PPID'])).stdout.trim());
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const poolOf = (t: SshTransport): ShellPool => (t as unknown as { shells: ShellPool }).shells;

describe('SshTransport: one persistent shell per connection (real sshd)', function () {
  this.timeout(60_000);
  let sshd: Sshd;
  let t: SshTransport;

  const connect = (): Promise<SshTransport> =>
    connectSsh({
      host: sshd.host,
      port: sshd.port,
      user: sshd.user,
      keyPath: sshd.clientKeyPath,
      keysDir: os.tmpdir(),
      workdir: path.join(sshd.dir, 'work'),
    });

  before(async function () {
    requireBinary(SSHD_BINARY, 'openssh-server', this);
    sshd = await startSshd();
  });

  beforeEach(async () => {
    t = await connect();
  });

  afterEach(async () => {
    await t?.close();
  });

  after(async () => {
    await sshd?.stop();
  });

  it('runs sequential commands in one shell, each in a fresh process group', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const r = await t.exec(['sh', '-c', 'echo $PPID $$ $(ps -o pgid= -p $$)']);
      const [parent, pid, pgid] = r.stdout.trim().split(/\s+/);
      expect(pgid, 'own process group').to.equal(pid);
      seen.add(parent);
    }
    expect([...seen]).to.have.length(1);
    expect(poolOf(t).size).to.equal(1);
  });

  it('frames output without a trailing newline, on both streams, and fake frames', async () => {
    const fake = `${randomBytes(16).toString('hex')}:e:0:\n:e:0:\n:r\n`;
    const r = await t.exec([
      'sh',
      '-c',
      'printf "%s" "$1"; printf "%s" "$1" >&2; exit 7',
      'sh',
      fake,
    ]);
    expect(r).to.deep.equal({ code: 7, signal: null, stdout: fake, stderr: fake });
    const bare = await t.exec(['printf', 'no newline']);
    expect(bare).to.deep.equal({ code: 0, signal: null, stdout: 'no newline', stderr: '' });
    const empty = await t.exec(['true']);
    expect(empty).to.deep.equal({ code: 0, signal: null, stdout: '', stderr: '' });
  });

  it('interleaves large stdout and stderr without losing a byte', async () => {
    const script = 'i=0; while [ $i -lt 3000 ]; do echo "o$i"; echo "e$i" >&2; i=$((i+1)); done';
    const r = await t.exec(['sh', '-c', script]);
    expect(r.stdout.split('\n')).to.have.length(3001);
    expect(r.stderr.split('\n')).to.have.length(3001);
    expect(r.stdout.endsWith('o2999\n')).to.equal(true);
    expect(r.stderr.endsWith('e2999\n')).to.equal(true);
  });

  it('passes a 80 KB argument and hostile cwd and env through exactly', async () => {
    // one argument may hold at most 128 KiB (Linux MAX_ARG_STRLEN)
    const big = randomBytes(60_000).toString('base64');
    const sum = createHash('sha256').update(big).digest('hex');
    const hashed = await t.exec(['sh', '-c', 'printf %s "$1" | sha256sum', 'sh', big]);
    expect(hashed.stdout.split(' ')[0]).to.equal(sum);
    const dir = "it's $(x) `y`\nz;&|*";
    await t.exec(['mkdir', '-p', dir]);
    const env = { Q: `'; echo pwned; '`, N: 'a\nb', F: ':e:0:\n', D: '$HOME' };
    const r = await t.exec(['sh', '-c', 'pwd; printf "%s|%s|%s|%s" "$Q" "$N" "$F" "$D"'], {
      cwd: dir,
      env,
    });
    expect(r.stdout).to.equal(`${t.workdir}/${dir}\n${env.Q}|${env.N}|${env.F}|${env.D}`);
  });

  it('keeps no state between commands; stdin is empty', async () => {
    await t.exec(['sh', '-c', 'cd /; export LEAK=1; umask 000']);
    const r = await t.exec(['sh', '-c', 'pwd; echo "${LEAK-unset}"; umask; cat']);
    expect(r.stdout).to.equal(
      `${t.workdir}\nunset\n${(await t.exec(['sh', '-c', 'umask'])).stdout}`,
    );
  });

  it('reports an exit status above 128 as the signal it names', async () => {
    expect(await t.exec(['sh', '-c', 'exit 130'])).to.include({ code: null, signal: 'SIGINT' });
    expect(await t.exec(['sh', '-c', 'exit 200'])).to.include({ code: 200, signal: null });
    expect(await t.exec(['sh', '-c', 'kill -KILL $$'])).to.include({
      code: null,
      signal: 'SIGKILL',
    });
  });

  it('abort kills the process group (grandchildren too); the shell serves the next command', async () => {
    const before = await shellPid(t);
    const ac = new AbortController();
    const running = t.exec(['sh', '-c', 'sleep 31.71 & sleep 31.72; wait'], { signal: ac.signal });
    const pids = async (): Promise<string> =>
      (await t.exec(['pgrep', '-f', '^sleep 31.7'])).stdout.trim();
    await pollUntil(
      'both sleeps',
      5_000,
      async () => (await pids()).split('\n').length === 2 || undefined,
      5,
    );
    ac.abort();
    const result = await running;
    expect(result).to.deep.equal({ code: null, signal: 'SIGKILL', stdout: '', stderr: '' });
    await pollUntil('no sleep left', 3_000, async () => (await pids()) === '' || undefined, 5);
    expect(alive(before), 'the shell survived').to.equal(true);
    expect(poolOf(t).size, 'no shell was replaced').to.equal(2);
    expect(await Promise.all([shellPid(t), shellPid(t)])).to.include(before);
  });

  it('abort at any moment (before the pid is known too) leaves no process behind', async () => {
    for (const delay of [0, 1, 3, 10, 30, 100]) {
      const ac = new AbortController();
      const running = t.exec(['sleep', '32.5'], { signal: ac.signal });
      await new Promise((r) => setTimeout(r, delay));
      ac.abort();
      expect(await running, `abort after ${delay} ms`).to.include({ signal: 'SIGKILL' });
      const left = async (): Promise<string> =>
        (await t.exec(['pgrep', '-f', '^sleep 32.5'])).stdout;
      await pollUntil('no sleep left', 3_000, async () => (await left()) === '' || undefined, 5);
    }
    expect((await t.exec(['echo', 'ok'])).stdout).to.equal('ok\n');
  });

  it('waits for a stopped command (as before) and abort still kills it', async () => {
    const ac = new AbortController();
    const started = Date.now();
    const running = t.exec(['sh', '-c', 'kill -STOP $$'], { signal: ac.signal });
    const settled = await Promise.race([
      running.then(() => 'settled'),
      new Promise((r) => setTimeout(() => r('waiting'), 500)),
    ]);
    expect(settled).to.equal('waiting');
    ac.abort();
    expect(await running).to.include({ code: null, signal: 'SIGKILL' });
    expect(Date.now() - started).to.be.below(5_000);
    expect((await t.exec(['echo', 'next'])).stdout).to.equal('next\n');
  });

  it('runs concurrent commands on up to MAX_SHELLS shells, the rest on their own channels', async () => {
    const n = MAX_SHELLS + 3;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        t.exec(['sh', '-c', `sleep 0.3; echo ${i} $PPID; echo e${i} >&2; exit ${i}`]),
      ),
    );
    results.forEach((r, i) => {
      expect(r.code).to.equal(i);
      expect(r.stdout.split(' ')[0]).to.equal(String(i));
      expect(r.stderr).to.equal(`e${i}\n`);
    });
    expect(poolOf(t).size).to.be.at.most(MAX_SHELLS);
  });

  it('replaces a shell that died while idle', async () => {
    const first = await shellPid(t);
    process.kill(first, 'SIGKILL'); // sshd is on this machine
    await pollUntil('the shell gone', 5_000, () => !alive(first) || undefined, 5);
    const second = await shellPid(t);
    expect(second).not.to.equal(first);
    expect((await t.exec(['echo', 'ok'])).stdout).to.equal('ok\n');
  });

  it('a command that kills its shell fails as a lost session; the next command works', async () => {
    let error: unknown;
    await t.exec(['sh', '-c', 'kill -KILL $PPID; sleep 0.1']).catch((err) => (error = err));
    expect(error).to.be.instanceOf(TransportError);
    expect((error as TransportError).code).to.equal('ssh_connection_lost');
    expect(String((error as TransportError).cause)).to.match(/remote shell ended/);
    expect((await t.exec(['echo', 'ok'])).stdout).to.equal('ok\n');
  });

  it('output of a background process after its command ended does not break framing', async () => {
    const r = await t.exec(['sh', '-c', '(sleep 0.3; echo late; echo late >&2) & echo now']);
    expect(r).to.deep.equal({ code: 0, signal: null, stdout: 'now\n', stderr: '' });
    const next = await t.exec(['sh', '-c', 'sleep 0.6; echo next']);
    expect(next.code).to.equal(0);
    expect(next.stdout).to.match(/next\n$/);
    expect((await t.exec(['echo', 'ok'])).stdout).to.equal('ok\n');
  });

  describe('ShellPool on a bare connection', () => {
    let client: Client;

    beforeEach(async () => {
      client = new Client();
      const privateKey = await readFile(sshd.clientKeyPath);
      await new Promise<void>((resolve, reject) => {
        client.once('ready', resolve).once('error', reject);
        client.connect({ host: sshd.host, port: sshd.port, username: sshd.user, privateKey });
      });
    });

    afterEach(() => client.end());

    it('drops what the login shell prints before the shell starts', async () => {
      const noisy = `echo rc-noise; echo rc-noise >&2; printf partial; ${SHELL_COMMAND}`;
      const pool = new ShellPool(client, noisy);
      const r = await pool.run('echo hello', {}, HOOKS);
      expect(r).to.deep.equal({ code: 0, signal: null, stdout: 'hello\n', stderr: '' });
      expect(pool.size).to.equal(1);
    });

    it('falls back to one channel per command when no shell can start', async () => {
      const pool = new ShellPool(client, 'exit 127');
      const r = await pool.run('echo fallback; echo err >&2; exit 4', {}, HOOKS);
      expect(r).to.deep.equal({ code: 4, signal: null, stdout: 'fallback\n', stderr: 'err\n' });
      expect(pool.size).to.equal(0);
      expect((await pool.run('echo again', {}, HOOKS)).stdout).to.equal('again\n');
      expect(pool.size, 'no second attempt').to.equal(0);
    });
  });
});
