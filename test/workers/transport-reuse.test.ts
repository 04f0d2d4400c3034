/** TransportReuse against a real sshd: one run's stages share a live connection, nothing else does. */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connectSsh } from '../../shared/transports/ssh.js';
import type { Transport } from '../../shared/transports/types.js';
import { reuseKey, TransportReuse } from '../../workers/transport-reuse.js';
import { requireBinary, SSHD_BINARY, startSshd, type Sshd } from '../helpers/sshd.js';

describe('TransportReuse (real sshd)', function () {
  this.timeout(60_000);
  let sshd: Sshd;
  let workdir: string;
  const run = { id: 'd1', run_id: 'r1', target_key: 'ssh:root@127.0.0.1:22:w' };

  before(async function () {
    requireBinary(SSHD_BINARY, 'openssh-server', this);
    sshd = await startSshd();
    workdir = await mkdtemp(path.join(tmpdir(), 'stagecoach-reuse-'));
  });

  after(async () => {
    await sshd?.stop();
    await rm(workdir ?? '/nonexistent', { recursive: true, force: true });
  });

  const connect = (): Promise<Transport> =>
    connectSsh({
      host: '127.0.0.1',
      port: sshd.port,
      user: sshd.user,
      keyPath: sshd.clientKeyPath,
      keysDir: path.dirname(sshd.clientKeyPath),
      workdir,
    });

  it('hands a parked connection to the same run only, once, and it still runs commands', async () => {
    const pool = new TransportReuse(10_000);
    const t = await connect();
    await pool.release(reuseKey(run), t);
    expect(pool.take(reuseKey({ ...run, run_id: 'r2' })), 'another run').to.equal(undefined);
    expect(pool.take(reuseKey({ ...run, id: 'd2' })), 'another deployment').to.equal(undefined);
    const again = pool.take(reuseKey(run));
    expect(again).to.equal(t);
    expect(pool.take(reuseKey(run)), 'taken once').to.equal(undefined);
    expect((await again!.exec(['echo', 'still here'])).stdout).to.equal('still here\n');
    await again!.close();
  });

  it('closes instead of parking when reuse is off, and closes what idles too long', async () => {
    const off = new TransportReuse(0);
    const t1 = await connect();
    await off.release(reuseKey(run), t1);
    expect(off.take(reuseKey(run))).to.equal(undefined);
    await t1.exec(['true']).then(
      () => expect.fail('a closed transport ran a command'),
      (err: Error) => expect(err.message).to.match(/closed/),
    );

    const short = new TransportReuse(50);
    const t2 = await connect();
    await short.release(reuseKey(run), t2);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(short.take(reuseKey(run)), 'closed after the idle time').to.equal(undefined);
    await t2.exec(['true']).then(
      () => expect.fail('an idle-closed transport ran a command'),
      (err: Error) => expect(err.message).to.match(/closed/),
    );
  });

  it('closeAll closes what is parked; a connection that died while parked is not handed on', async () => {
    const pool = new TransportReuse(10_000);
    const other = { ...run, run_id: 'r3' };
    const t = await connect();
    await pool.release(reuseKey(other), t);
    await pool.closeAll();
    expect(pool.take(reuseKey(other))).to.equal(undefined);
    await t.exec(['true']).then(
      () => expect.fail('closeAll left it open'),
      (err: Error) => expect(err.message).to.match(/closed/),
    );

    // last: the server dies with every session, so the parked link drops
    const dead = await connect();
    await pool.release(reuseKey(run), dead);
    await sshd.killAll();
    for (const until = Date.now() + 10_000; (dead as { alive?: boolean }).alive !== false;) {
      expect(Date.now(), 'the connection drops').to.be.below(until);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(pool.take(reuseKey(run))).to.equal(undefined);
  });
});
