/**
 * GET /deployments/:id/releases and POST /deployments/:id/rollback, without workers: releases
 * are written into the database where the setup and deploy stages would have recorded them.
 */
import { expect } from 'chai';
import { buildManifest } from '../../factories.js';
import { createHarness, type Harness } from '../../helpers/harness.js';
import { serve, type ApiClient } from '../../helpers/http.js';
import type { Status } from '../../../shared/status.js';

const BASE = '/api/v1/deployments';
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

/** A 64-hex sha256 made of one repeated digit (`sha('a')` = `aaaa…`). */
const sha = (c: string) => c.repeat(64);

/** A release as a worker would have left it: ages in seconds before now (null: never). */
interface Seed {
  sha256: string;
  createdAgo: number;
  deployedAgo?: number | null;
  removed?: boolean;
}

describe('api/routes/releases: releases and rollback', function () {
  this.timeout(60_000);
  let h: Harness;
  let api: ApiClient;
  let workdirs = 0;

  before(async () => {
    h = await createHarness('postgres');
    api = await serve(h.app);
  });

  after(async () => {
    await api?.close();
    await h?.close();
  });

  /** A deployment in `status` with these releases, `current` serving; returns its id. */
  async function deployment(
    status: Status,
    seeds: Seed[] = [],
    current: string | null = null,
  ): Promise<string> {
    const manifest = buildManifest({
      target: { type: 'local', workdir: `targets/r${++workdirs}` },
    });
    const res = await api.call('POST', BASE, { manifest });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    const id = res.body.deployment.id as string;
    const ago = (s: number | null | undefined) =>
      s === null || s === undefined ? null : h.db.raw(`now() - make_interval(secs => ?)`, [s]);
    for (const s of seeds) {
      await h.db('releases').insert({
        deployment_id: id,
        sha256: s.sha256,
        bundle: JSON.stringify({ sha256: s.sha256, size_bytes: 1 }),
        manifest: JSON.stringify(manifest),
        created_at: ago(s.createdAgo),
        deployed_at: ago(s.deployedAgo),
        removed_at: s.removed ? h.db.fn.now() : null,
      });
    }
    await h.db('deployments').where({ id }).update({ status, current_release: current });
    return id;
  }

  const rollback = (id: string, body: unknown = {}) =>
    api.call('POST', `${BASE}/${id}/rollback`, body);

  /** Serving `b`, `a` deployed before it, `c` set up last but never healthy. */
  const history: Seed[] = [
    { sha256: sha('a'), createdAgo: 300, deployedAgo: 200 },
    { sha256: sha('b'), createdAgo: 150, deployedAgo: 100 },
    { sha256: sha('c'), createdAgo: 50, deployedAgo: null },
  ];

  describe('GET /deployments/:id/releases', () => {
    it('lists the releases on the target newest first, the serving one marked current', async () => {
      const id = await deployment(
        'deployed',
        [...history, { sha256: sha('d'), createdAgo: 10, deployedAgo: 5, removed: true }],
        sha('b'),
      );
      const res = await api.call('GET', `${BASE}/${id}/releases`);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const releases = res.body.releases as Record<string, unknown>[];
      // c, set up after b began serving (and never healthy), is the newest
      expect(releases.map((r) => [r.sha256, r.current])).to.deep.equal([
        [sha('c'), false],
        [sha('b'), true],
        [sha('a'), false],
      ]);
      expect(Object.keys(releases[0]).sort()).to.deep.equal([
        'created_at',
        'current',
        'deployed_at',
        'sha256',
      ]);
      expect(releases[0].deployed_at).to.equal(null);
      expect(new Date(releases[1].deployed_at as string).getTime()).to.be.greaterThan(
        new Date(releases[1].created_at as string).getTime(),
      );
    });

    it('is empty before any release, and shows current_release on the deployment', async () => {
      const id = await deployment('pending');
      expect((await api.call('GET', `${BASE}/${id}/releases`)).body).to.deep.equal({
        releases: [],
      });
      const served = await deployment('deployed', history, sha('b'));
      const d = (await api.call('GET', `${BASE}/${served}`)).body.deployment;
      expect(d.current_release).to.equal(sha('b'));
    });

    it('answers 404 not_found for an unknown or malformed id', async () => {
      for (const id of [UNKNOWN_ID, 'nope']) {
        const res = await api.call('GET', `${BASE}/${id}/releases`);
        expect(res.status).to.equal(404);
        expect(res.body.error.code).to.equal('not_found');
      }
    });
  });

  describe('POST /deployments/:id/rollback', () => {
    it('starts a rollback run to the default target: the last healthy one before current', async () => {
      const id = await deployment('deployed', history, sha('b'));
      const res = await rollback(id);
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      expect(res.body.run_id).to.be.a('string');
      expect(res.body.deployment).to.include({
        status: 'deploying',
        run_kind: 'rollback',
        run_stage: 'deploy',
        run_active: true,
        run_id: res.body.run_id,
        current_release: sha('b'),
      });
      const row = await h.db('deployments').where({ id }).first();
      expect(row.run_options).to.deep.equal({ release: sha('a') });
      const events = (await api.call('GET', `${BASE}/${id}/history`)).body.events;
      expect(events.find((e: { kind: string }) => e.kind === 'run_started')).to.include({
        message: `rollback to ${sha('a')}`,
        actor: 'api',
      });
    });

    it('rolls back to a given sha256 (from stopped and from failed too)', async () => {
      for (const status of ['deployed', 'stopped', 'failed'] as const) {
        const id = await deployment(status, history, sha('b'));
        const res = await rollback(id, { sha256: sha('c') });
        expect(res.status, `${status}: ${JSON.stringify(res.body)}`).to.equal(202);
        const row = await h.db('deployments').where({ id }).first();
        expect(row).to.include({ status: 'deploying', run_kind: 'rollback' });
        expect(row.run_options).to.deep.equal({ release: sha('c') });
      }
    });

    it('never takes a release that did not pass its health checks as the default', async () => {
      const seeds = [
        { sha256: sha('a'), createdAgo: 300, deployedAgo: null },
        { sha256: sha('b'), createdAgo: 150, deployedAgo: 100 },
      ];
      const res = await rollback(await deployment('deployed', seeds, sha('b')));
      expect(res.status).to.equal(409);
      expect(res.body.error.code).to.equal('no_previous_release');
    });

    it('answers 409 no_previous_release when the only earlier healthy release was pruned', async () => {
      const seeds = [
        { sha256: sha('a'), createdAgo: 300, deployedAgo: 200, removed: true },
        { sha256: sha('b'), createdAgo: 150, deployedAgo: 100 },
      ];
      const id = await deployment('deployed', seeds, sha('b'));
      const res = await rollback(id);
      expect(res.status).to.equal(409);
      expect(res.body.error).to.include({ code: 'no_previous_release' });
      const row = await h.db('deployments').where({ id }).first();
      expect(row).to.include({ status: 'deployed', run_kind: null });
      const started = await h
        .db('deployment_events')
        .where({ deployment_id: id, kind: 'run_started' });
      expect(started).to.deep.equal([]);
    });

    it('answers 404 release_not_found to an unknown or pruned sha256', async () => {
      const seeds = [
        ...history,
        { sha256: sha('d'), createdAgo: 400, deployedAgo: 350, removed: true },
      ];
      const id = await deployment('deployed', seeds, sha('b'));
      for (const sha256 of [sha('e'), sha('d')]) {
        const res = await rollback(id, { sha256 });
        expect(res.status).to.equal(404);
        expect(res.body.error).to.deep.include({ code: 'release_not_found', details: { sha256 } });
      }
    });

    it('answers 404 not_found for an unknown deployment', async () => {
      const res = await rollback(UNKNOWN_ID);
      expect(res.status).to.equal(404);
      expect(res.body.error.code).to.equal('not_found');
    });

    it('answers 409 invalid_state from pending, as redeploy does', async () => {
      const id = await deployment('pending', history, sha('b'));
      const res = await rollback(id);
      expect(res.status).to.equal(409);
      expect(res.body.error).to.deep.include({
        code: 'invalid_state',
        details: { status: 'pending' },
      });
      expect((await api.call('POST', `${BASE}/${id}/redeploy`, {})).body.error.code).to.equal(
        'invalid_state',
      );
    });

    it('chooses the default target on the locked row: a change of current_release first counts', async () => {
      const id = await deployment('deployed', history, sha('b'));
      // a deploy that makes `a` serve holds the row while the rollback arrives
      const trx = await h.db.transaction();
      await trx('deployments')
        .where({ id })
        .update({ current_release: sha('a') });
      await trx('releases')
        .where({ deployment_id: id, sha256: sha('a') })
        .update({ deployed_at: trx.fn.now() });
      const answer = rollback(id);
      await new Promise((r) => setTimeout(r, 300));
      await trx.commit();
      expect((await answer).status).to.equal(202);
      const row = await h.db('deployments').where({ id }).first();
      expect(row.run_options).to.deep.equal({ release: sha('b') });
    });

    it('answers 409 already_running while a run is active', async () => {
      const id = await deployment('deployed', history, sha('b'));
      expect((await rollback(id)).status).to.equal(202);
      const again = await rollback(id, { sha256: sha('a') });
      expect(again.status).to.equal(409);
      expect(again.body.error.code).to.equal('already_running');
    });

    it('lets exactly one of 30 concurrent rollbacks start; the rest answer already_running', async () => {
      const id = await deployment('deployed', history, sha('b'));
      const answers = await Promise.all(Array.from({ length: 30 }, () => rollback(id)));
      const codes = answers.map((a) =>
        a.status === 202 ? 202 : `${a.status} ${a.body.error.code}`,
      );
      expect(codes.filter((c) => c === 202)).to.have.length(1);
      expect(codes.filter((c) => c === '409 already_running')).to.have.length(29);
      const started = await h
        .db('deployment_events')
        .where({ deployment_id: id, kind: 'run_started' });
      expect(started).to.have.length(1);
    });

    it('answers 422 invalid_request to unknown fields and malformed sha256s', async () => {
      const id = await deployment('deployed', history, sha('b'));
      for (const body of [
        { extra: 1 },
        { sha256: sha('A') },
        { sha256: 'a'.repeat(63) },
        { sha256: `${sha('a')}0` },
        { sha256: 42 },
        { sha256: null },
      ]) {
        const res = await rollback(id, body);
        expect(res.status, JSON.stringify(body)).to.equal(422);
        expect(res.body.error.code).to.equal('invalid_request');
        expect(res.body.error.details.issues).to.be.an('array').with.length.above(0);
      }
      expect((await h.db('deployments').where({ id }).first()).run_kind).to.equal(null);
    });
  });

  describe('access, as the other actions', () => {
    let guarded: Harness;
    let client: ApiClient;

    before(async () => {
      guarded = await createHarness('postgres');
      client = await serve(guarded.app);
    });

    after(async () => {
      await client?.close();
      await guarded?.close();
    });

    /** A request with a bearer token and a content type of choice. */
    const send = async (path: string, token: string, body?: string, type = 'application/json') => {
      const res = await fetch(`${client.url}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': type },
        body,
      });
      return { status: res.status, body: (await res.json()) as { error?: { code: string } } };
    };

    it('needs a token that may write, JSON only, and records the token as the actor', async () => {
      const ops = (await client.call('POST', '/api/v1/tokens', { name: 'ops' })).body.token;
      const viewer = (
        await send('/api/v1/tokens', ops, JSON.stringify({ name: 'viewer', read_only: true }))
      ).body as unknown as { token: string };
      const manifest = buildManifest({ target: { type: 'local', workdir: 'targets/acl' } });
      const created = await send(BASE, ops, JSON.stringify({ manifest }));
      const id = (created.body as unknown as { deployment: { id: string } }).deployment.id;
      await guarded.db('releases').insert(
        history.map((r) => ({
          deployment_id: id,
          sha256: r.sha256,
          bundle: JSON.stringify({ sha256: r.sha256, size_bytes: 1 }),
          manifest: JSON.stringify(manifest),
          deployed_at: r.deployedAgo === null ? null : guarded.db.fn.now(),
        })),
      );
      await guarded.db('deployments').where({ id }).update({ status: 'deployed' });
      const url = `${BASE}/${id}/rollback`;
      const body = JSON.stringify({ sha256: sha('a') });
      expect((await send(`${BASE}/${id}/releases`, viewer.token)).status).to.equal(200);
      expect((await send(url, viewer.token, body)).body.error?.code).to.equal('forbidden');
      expect((await send(url, ops, body, 'text/plain')).status).to.equal(415);
      expect((await send(url, ops, body)).status).to.equal(202);
      const started = await guarded
        .db('deployment_events')
        .where({ deployment_id: id, kind: 'run_started' })
        .first();
      expect(started.actor).to.equal('token:ops');
    });
  });
});
