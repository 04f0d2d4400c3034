/** The releases repository: lease fencing of recordRelease/markServing/markRemoved, and reads. */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { buildManifest } from '../../factories.js';
import { createHarness, type Harness } from '../../helpers/harness.js';
import { createDeployment } from '../../../shared/repositories/deployments.js';
import {
  defaultRollbackTarget,
  findRelease,
  listReleases,
  markRemoved,
  markServing,
  recordRelease,
} from '../../../shared/repositories/releases.js';

const sha = (c: string) => c.repeat(64);
const bundleOf = (sha256: string) => ({ sha256, size_bytes: 100 });

describe('shared/repositories/releases', function () {
  this.timeout(60_000);
  let h: Harness;
  let n = 0;

  before(async () => {
    h = await createHarness('postgres');
  });

  after(async () => {
    await h?.close();
  });

  /** A deployment whose stage lease `token` holds (as a claimed stage's would). */
  async function leased(): Promise<{
    id: string;
    token: string;
    manifest: Record<string, unknown>;
  }> {
    const manifest = buildManifest({ target: { type: 'local', workdir: `targets/rel${++n}` } });
    const row = await createDeployment(
      h.db,
      {
        name: 'hello-web',
        scenario: 'hello-web',
        manifest: manifest as unknown as Record<string, unknown>,
        target_key: `local:targets/rel${n}`,
        edge_key: null,
      },
      'test',
    );
    const token = randomUUID();
    await h.db('deployments').where({ id: row.id }).update({ lease_token: token });
    return { id: row.id, token, manifest: row.manifest };
  }

  const deploymentRow = (id: string) => h.db('deployments').where({ id }).first();

  describe('recordRelease', () => {
    it('records a release for the lease holder; a wrong token writes nothing', async () => {
      const { id, token, manifest } = await leased();
      expect(
        await recordRelease(h.db, id, randomUUID(), { bundle: bundleOf(sha('a')), manifest }),
      ).to.equal(false);
      expect(await findRelease(h.db, id, sha('a'))).to.equal(null);
      expect(
        await recordRelease(h.db, id, token, { bundle: bundleOf(sha('a')), manifest }),
      ).to.equal(true);
      const r = await findRelease(h.db, id, sha('a'));
      expect(r).to.deep.include({
        deployment_id: id,
        sha256: sha('a'),
        bundle: bundleOf(sha('a')),
        manifest,
        deployed_at: null,
        removed_at: null,
      });
      expect(r!.created_at).to.be.instanceOf(Date);
    });

    it('upserts: keeps created_at and deployed_at, clears removed_at, takes the new snapshot', async () => {
      const { id, token, manifest } = await leased();
      await recordRelease(h.db, id, token, { bundle: bundleOf(sha('a')), manifest });
      await markServing(h.db, id, token, sha('a'));
      await markRemoved(h.db, id, token, [sha('a')]);
      const before = (await findRelease(h.db, id, sha('a')))!;
      expect(before.removed_at).to.be.instanceOf(Date);
      const next = { ...manifest, env: { NEW: '1' } };
      const bundle = { sha256: sha('a'), size_bytes: 200 };
      expect(await recordRelease(h.db, id, token, { bundle, manifest: next })).to.equal(true);
      const after = (await findRelease(h.db, id, sha('a')))!;
      expect(after).to.deep.include({ bundle, manifest: next, removed_at: null });
      expect(after.created_at).to.deep.equal(before.created_at);
      expect(after.deployed_at).to.deep.equal(before.deployed_at);
    });
  });

  describe('markServing', () => {
    it('sets deployed_at and current_release for the lease holder; a wrong token writes nothing', async () => {
      const { id, token, manifest } = await leased();
      await recordRelease(h.db, id, token, { bundle: bundleOf(sha('a')), manifest });
      expect(await markServing(h.db, id, randomUUID(), sha('a'))).to.equal(false);
      expect((await findRelease(h.db, id, sha('a')))!.deployed_at).to.equal(null);
      expect((await deploymentRow(id)).current_release).to.equal(null);

      expect(await markServing(h.db, id, token, sha('a'))).to.equal(true);
      expect((await findRelease(h.db, id, sha('a')))!.deployed_at).to.be.instanceOf(Date);
      const d = await deploymentRow(id);
      expect(d.current_release).to.equal(sha('a'));
      expect(d.bundle).to.equal(null); // not adopted
    });

    it('with adopt, makes the release’s bundle and manifest the deployment’s own', async () => {
      const { id, token, manifest } = await leased();
      const old = { ...manifest, env: { OLD: '1' } };
      await recordRelease(h.db, id, token, { bundle: bundleOf(sha('a')), manifest: old });
      await h
        .db('deployments')
        .where({ id })
        .update({ bundle: JSON.stringify(bundleOf(sha('b'))) });
      expect(await markServing(h.db, id, token, sha('a'), { adopt: true })).to.equal(true);
      const d = await deploymentRow(id);
      expect(d).to.deep.include({
        current_release: sha('a'),
        bundle: bundleOf(sha('a')),
        manifest: old,
      });
    });

    it('throws for a release never recorded, and writes nothing', async () => {
      const { id, token } = await leased();
      let err: unknown;
      await markServing(h.db, id, token, sha('f')).catch((e: unknown) => (err = e));
      expect(String(err)).to.contain('never recorded');
      expect((await deploymentRow(id)).current_release).to.equal(null);
    });
  });

  describe('markRemoved', () => {
    it('marks pruned releases for the lease holder; a wrong token writes nothing', async () => {
      const { id, token, manifest } = await leased();
      for (const c of ['a', 'b', 'c']) {
        await recordRelease(h.db, id, token, { bundle: bundleOf(sha(c)), manifest });
      }
      expect(await markRemoved(h.db, id, randomUUID(), [sha('a'), sha('b')])).to.equal(false);
      expect((await listReleases(h.db, id)).map((r) => r.sha256).sort()).to.deep.equal([
        sha('a'),
        sha('b'),
        sha('c'),
      ]);
      expect(await markRemoved(h.db, id, token, [sha('a'), sha('b')])).to.equal(true);
      expect(await markRemoved(h.db, id, token, [])).to.equal(true);
      expect((await listReleases(h.db, id)).map((r) => r.sha256)).to.deep.equal([sha('c')]);
      expect((await findRelease(h.db, id, sha('a')))!.removed_at).to.be.instanceOf(Date);
    });
  });

  describe('reads and the default rollback target', () => {
    it('lists newest first by coalesce(deployed_at, created_at); the default skips current and never-healthy', async () => {
      const { id, token, manifest } = await leased();
      const at = (c: string, col: 'created_at' | 'deployed_at', secondsAgo: number) =>
        h
          .db('releases')
          .where({ deployment_id: id, sha256: sha(c) })
          .update({ [col]: h.db.raw('now() - make_interval(secs => ?)', [secondsAgo]) });
      for (const c of ['a', 'b', 'c', 'd']) {
        await recordRelease(h.db, id, token, { bundle: bundleOf(sha(c)), manifest });
      }
      await at('a', 'created_at', 400);
      await at('a', 'deployed_at', 10); // rolled back to most recently
      await at('b', 'created_at', 300);
      await at('b', 'deployed_at', 250);
      await at('c', 'created_at', 200); // never healthy
      await at('d', 'created_at', 100);
      await at('d', 'deployed_at', 90);
      const order = (await listReleases(h.db, id)).map((r) => r.sha256);
      expect(order).to.deep.equal([sha('a'), sha('d'), sha('c'), sha('b')]);

      const target = (current: string | null) =>
        defaultRollbackTarget(h.db, { id, current_release: current }).then(
          (r) => r?.sha256 ?? null,
        );
      expect(await target(sha('a'))).to.equal(sha('d'));
      expect(await target(sha('d'))).to.equal(sha('a'));
      expect(await target(null)).to.equal(sha('a'));
      await markRemoved(h.db, id, token, [sha('d'), sha('b')]);
      expect(await target(sha('a'))).to.equal(null); // c never passed its health checks
    });

    it('finds nothing for a malformed deployment id', async () => {
      expect(await findRelease(h.db, 'nope', sha('a'))).to.equal(null);
      expect(await listReleases(h.db, 'nope')).to.deep.equal([]);
    });
  });
});
