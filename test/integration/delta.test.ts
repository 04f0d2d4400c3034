/**
 * Delta uploads through the whole pipeline (issue 10, item 2): hello-web with 200 extra files
 * deployed over SSH (real sshd) and to a local target, one file changed, deployed again: the
 * second setup sends a delta of that file only, and the new release serves.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildManifest, writeFiles } from '../factories.js';
import { useDeploySuite } from '../helpers/deploy-suite.js';
import { freePort } from '../helpers/ports.js';
import { requireBinary, SSHD_BINARY } from '../helpers/sshd.js';

describe('pipeline: a one-file change is shipped as a delta', function () {
  this.timeout(240_000);
  before(function () {
    requireBinary(SSHD_BINARY, 'openssh-server', this);
  });
  const suite = useDeploySuite({
    prepare: async (scenarios) => {
      const files: Record<string, Buffer> = {};
      for (let i = 0; i < 200; i++) {
        files[`assets/a${i}.bin`] = randomBytes(16 * 1024);
      }
      await writeFiles(path.join(scenarios, 'examples/hello-web'), files);
    },
  });

  async function run(id: string) {
    expect((await suite.api.call('POST', `/api/v1/deployments/${id}/execute`, {})).status).to.equal(
      202,
    );
    const d = await suite.api.waitFor(id, ['deployed', 'failed', 'stopped'], 180_000);
    expect(d.status, d.error_message).to.equal('deployed');
    return d;
  }

  for (const kind of ['ssh', 'local'] as const) {
    it(`over ${kind}: the second deploy sends the changed file only and serves`, async () => {
      const port = await freePort();
      const host = await suite.remoteHost();
      const name = `delta-${kind}`;
      const target =
        kind === 'ssh' ? host.target(name) : { type: 'local', workdir: `targets/${name}` };
      const manifest = buildManifest({
        scenario: { path: 'examples/hello-web' },
        ports: { web: port },
        health: { timeout_s: 30 },
        target: target as never,
      });
      const res = await suite.api.call('POST', '/api/v1/deployments', { manifest });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      const id = res.body.deployment.id as string;

      const first = await run(id);
      expect(first.setup_result).to.include({ mode: 'full', uploaded: true });
      await writeFile(
        path.join(suite.scenarios, 'examples/hello-web/assets/a7.bin'),
        randomBytes(16 * 1024),
      );
      const second = await run(id);
      const s = second.setup_result;
      expect(s).to.include({ mode: 'delta', uploaded: true, files_sent: 1 });
      expect(s.bytes_total).to.equal(second.bundle.size_bytes);
      expect(s.bytes_sent / s.bytes_total).to.be.lessThan(0.05);
      expect(second.bundle.sha256).to.not.equal(first.bundle.sha256);
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).to.equal(200);
      // the new release is private, as a full upload leaves it
      const workdir =
        kind === 'ssh' ? path.join(host.dir, name) : path.join(suite.h.dataDir, 'targets', name);
      const release = path.join(workdir, 'releases', second.bundle.sha256);
      expect((await stat(release)).mode & 0o777).to.equal(0o700);
      expect((await stat(path.join(workdir, 'store'))).mode & 0o777).to.equal(0o700);
      expect(await readdir(path.join(release, 'scenario', 'assets'))).to.have.length(200);
      await suite.api.call('POST', `/api/v1/deployments/${id}/stop`, {});
      await suite.api.waitFor(id, ['stopped']);
    });
  }
});
