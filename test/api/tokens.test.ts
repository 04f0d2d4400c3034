/**
 * Named API tokens: create (shown once, stored as a hash), list, revoke, over HTTP and from
 * `npm run token`; 401 once any token exists, 403 for a read-only token's actions; the
 * principal and actor the guard exposes in `res.locals`.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import express from 'express';
import { authenticate, authorize } from '../../api/auth.js';
import { createLogger } from '../../shared/logger.js';
import { buildManifest } from '../factories.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/env.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { serve, type ApiClient } from '../helpers/http.js';

const BASE = '/api/v1';
const run = promisify(execFile);

/** A JSON call with an optional bearer token. */
async function call(
  api: ApiClient,
  method: string,
  p: string,
  opts: { token?: string; body?: unknown } = {},
) {
  const headers: Record<string, string> = {};
  if (method !== 'GET') {
    headers['content-type'] = 'application/json';
  }
  if (opts.token) {
    headers.authorization = `Bearer ${opts.token}`;
  }
  const res = await fetch(`${api.url}${BASE}${p}`, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const body: any = text ? JSON.parse(text) : null;
  return { status: res.status, body, headers: res.headers };
}

describe('api: named tokens', function () {
  this.timeout(60_000);

  describe('over HTTP', () => {
    let h: Harness;
    let api: ApiClient;
    let full: string;
    let viewer: string;

    before(async () => {
      h = await createHarness('postgres');
      api = await serve(h.app);
    });

    after(async () => {
      await api?.close();
      await h?.close();
    });

    it('is open with no token at all; the first token is created there (201, shown once)', async () => {
      expect((await call(api, 'GET', '/deployments')).status).to.equal(200);
      const res = await call(api, 'POST', '/tokens', { body: { name: 'ci' } });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(Object.keys(res.body).sort()).to.deep.equal(['name', 'read_only', 'token']);
      expect(res.body).to.include({ name: 'ci', read_only: false });
      expect(res.body.token).to.match(/^sc_[A-Za-z0-9_-]{43}$/);
      full = res.body.token;
      // stored only as a hash: no column of the row holds the token
      const rows = await h.db('api_tokens').select('*');
      expect(JSON.stringify(rows)).not.to.contain(full.slice(3));
      expect(rows[0].token_hash).to.match(/^[0-9a-f]{64}$/);
    });

    it('then needs the bearer token everywhere: 401 unauthorized without it', async () => {
      for (const p of ['/deployments', '/tokens', '/nope']) {
        const res = await call(api, 'GET', p);
        expect(res.status, p).to.equal(401);
        expect(res.body.error.code).to.equal('unauthorized');
        expect(res.headers.get('www-authenticate')).to.equal('Bearer');
      }
      const create = await call(api, 'POST', '/deployments', {
        body: { manifest: buildManifest() },
      });
      expect(create.status).to.equal(401);
      for (const token of ['sc_wrong', `${full}x`, full.slice(0, -1)]) {
        expect((await call(api, 'GET', '/deployments', { token })).status).to.equal(401);
      }
      const dash = await fetch(`${api.url}/admin/queues`);
      expect(dash.status).to.equal(401);
      expect(await h.db('deployments').count({ n: '*' })).to.deep.equal([{ n: '0' }]);
      expect((await call(api, 'GET', '/deployments', { token: full })).status).to.equal(200);
      expect((await fetch(`${api.url}/healthz`)).status).to.equal(200);
    });

    it('creates a read-only token; a duplicate name is 409, a bad body 422', async () => {
      const ro = await call(api, 'POST', '/tokens', {
        token: full,
        body: { name: 'viewer', read_only: true },
      });
      expect(ro.status).to.equal(201);
      expect(ro.body).to.include({ name: 'viewer', read_only: true });
      viewer = ro.body.token;
      expect(viewer).not.to.equal(full);

      const dup = await call(api, 'POST', '/tokens', { token: full, body: { name: 'ci' } });
      expect(dup.status).to.equal(409);
      expect(dup.body.error.code).to.equal('token_exists');
      for (const body of [
        {},
        { name: '' },
        { name: 'a b' },
        { name: 'x'.repeat(64) },
        { name: 'ok', extra: 1 },
        { name: 'ok', read_only: 'yes' },
      ]) {
        const res = await call(api, 'POST', '/tokens', { token: full, body });
        expect(res.status, JSON.stringify(body)).to.equal(422);
        expect(res.body.error.code).to.equal('invalid_request');
      }
    });

    it('lists names and flags, never a token or a hash', async () => {
      const res = await call(api, 'GET', '/tokens', { token: full });
      expect(res.status).to.equal(200);
      expect(res.body.tokens.map((t: object) => ({ ...t, created_at: undefined }))).to.deep.equal([
        { name: 'ci', read_only: false, created_at: undefined },
        { name: 'viewer', read_only: true, created_at: undefined },
      ]);
      const text = JSON.stringify(res.body);
      expect(text).not.to.contain(full.slice(3));
      expect(text).not.to.contain(viewer.slice(3));
      expect(text).not.to.contain('hash');
    });

    it('lets a read-only token read, and answers 403 forbidden to every action', async () => {
      const made = await call(api, 'POST', '/deployments', {
        token: full,
        body: { manifest: buildManifest() },
      });
      expect(made.status).to.equal(201);
      const id = made.body.deployment.id;
      for (const p of ['/deployments', `/deployments/${id}`, `/deployments/${id}/history`]) {
        expect((await call(api, 'GET', p, { token: viewer })).status, p).to.equal(200);
      }
      const actions: [string, string, unknown][] = [
        ['POST', '/deployments', { manifest: buildManifest({ name: 'ro' }) }],
        ['POST', `/deployments/${id}/execute`, {}],
        ['POST', `/deployments/${id}/stop`, {}],
        ['POST', `/deployments/${id}/cancel`, undefined],
        ['POST', `/deployments/${id}/inspect`, undefined],
        ['DELETE', `/deployments/${id}`, undefined],
        ['POST', '/tokens', { name: 'mine' }],
        ['DELETE', '/tokens/ci', undefined],
        ['GET', '/tokens', undefined],
      ];
      for (const [method, p, body] of actions) {
        const res = await call(api, method, p, { token: viewer, body });
        expect(res.status, `${method} ${p}`).to.equal(403);
        expect(res.body.error.code).to.equal('forbidden');
      }
      const row = await h.db('deployments').where({ id }).first('status', 'deleted_at', 'run_kind');
      expect(row).to.deep.equal({ status: 'pending', deleted_at: null, run_kind: null });
      expect(await h.db('deployments').count({ n: '*' })).to.deep.equal([{ n: '1' }]);
      expect(await h.db('api_tokens').whereNull('revoked_at').count({ n: '*' })).to.deep.equal([
        { n: '2' },
      ]);
    });

    it('names the token in the history of what it did', async () => {
      const made = await call(api, 'POST', '/deployments', {
        token: full,
        body: { manifest: buildManifest({ target: { type: 'local', workdir: 'targets/actor' } }) },
      });
      const id = made.body.deployment.id;
      expect(
        (await call(api, 'POST', `/deployments/${id}/execute`, { token: full, body: {} })).status,
      ).to.equal(202);
      expect(
        (await call(api, 'POST', `/deployments/${id}/cancel`, { token: full, body: {} })).status,
      ).to.equal(202);
      const events = (await call(api, 'GET', `/deployments/${id}/history`, { token: full })).body
        .events;
      const byKind = (k: string) => events.find((e: { kind: string }) => e.kind === k);
      expect(byKind('run_started').actor).to.equal('token:ci');
      expect(events[0].actor).to.equal('token:ci');
      expect(events.at(-1).actor).to.equal('token:ci');
    });

    it('revokes: the token stops working at once, a second revoke is 404, the name is free again', async () => {
      expect((await call(api, 'DELETE', '/tokens/viewer', { token: full })).status).to.equal(204);
      expect((await call(api, 'GET', '/deployments', { token: viewer })).status).to.equal(401);
      const again = await call(api, 'DELETE', '/tokens/viewer', { token: full });
      expect(again.status).to.equal(404);
      expect(again.body.error.code).to.equal('not_found');
      const names = (await call(api, 'GET', '/tokens', { token: full })).body.tokens.map(
        (t: { name: string }) => t.name,
      );
      expect(names).to.deep.equal(['ci']);
      const reused = await call(api, 'POST', '/tokens', { token: full, body: { name: 'viewer' } });
      expect(reused.status).to.equal(201);
      expect((await call(api, 'DELETE', '/tokens/viewer', { token: full })).status).to.equal(204);
    });

    it('is open again once the last token is revoked (a revoked bearer is still refused)', async () => {
      expect((await call(api, 'DELETE', '/tokens/ci', { token: full })).status).to.equal(204);
      expect((await call(api, 'GET', '/deployments')).status).to.equal(200);
      expect((await call(api, 'GET', '/deployments', { token: full })).status).to.equal(401);
    });
  });

  describe('with API_TOKEN configured', () => {
    const API_TOKEN = 'k'.repeat(32);
    let h: Harness;
    let api: ApiClient;

    before(async () => {
      h = await createHarness('postgres', { API_TOKEN });
      api = await serve(h.app);
    });

    after(async () => {
      await api?.close();
      await h?.close();
    });

    it('API_TOKEN stays valid, manages tokens, and named tokens work beside it', async () => {
      expect((await call(api, 'POST', '/tokens', { body: { name: 'x' } })).status).to.equal(401);
      const made = await call(api, 'POST', '/tokens', { token: API_TOKEN, body: { name: 'ops' } });
      expect(made.status).to.equal(201);
      expect((await call(api, 'GET', '/deployments', { token: made.body.token })).status).to.equal(
        200,
      );
      expect((await call(api, 'GET', '/deployments', { token: API_TOKEN })).status).to.equal(200);
    });

    it('exposes the principal as res.locals.principal and the actor as res.locals.actor', async () => {
      const ro = await call(api, 'POST', '/tokens', {
        token: API_TOKEN,
        body: { name: 'audit', read_only: true },
      });
      const ops = await call(api, 'POST', '/tokens', { token: API_TOKEN, body: { name: 'ops2' } });
      const probe = express();
      const deps = { db: h.db, queues: h.queues, config: h.config, logger: createLogger('silent') };
      probe.use(
        authenticate({ ...deps, relay: { kick: () => undefined }, secrets: null }),
        authorize,
      );
      probe.get('/who', (_req, res) => {
        res.json({ actor: res.locals.actor, principal: res.locals.principal });
      });
      const server = await serve(probe);
      try {
        const who = async (token: string) =>
          (
            await fetch(`${server.url}/who`, { headers: { authorization: `Bearer ${token}` } })
          ).json();
        expect(await who(API_TOKEN)).to.deep.equal({
          actor: 'api',
          principal: { kind: 'api_token', readOnly: false },
        });
        expect(await who(ops.body.token)).to.deep.equal({
          actor: 'token:ops2',
          principal: { kind: 'token', name: 'ops2', readOnly: false },
        });
        expect(await who(ro.body.token)).to.deep.equal({
          actor: 'token:audit',
          principal: { kind: 'token', name: 'audit', readOnly: true },
        });
      } finally {
        await server.close();
      }
    });
  });

  describe('npm run token', () => {
    let h: Harness;
    let api: ApiClient;
    let env: NodeJS.ProcessEnv;

    before(async () => {
      h = await createHarness('postgres');
      api = await serve(h.app);
      const schema = (await h.db.raw('select current_schema() as s')).rows[0].s as string;
      env = {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        // the harness's schema, through libpq's `options`
        DATABASE_URL: `${TEST_DATABASE_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`,
        REDIS_URL: TEST_REDIS_URL,
        QUEUE_PREFIX: `tok_${randomBytes(4).toString('hex')}`,
        STAGECOACH_DATA_DIR: h.dataDir,
      };
    });

    after(async () => {
      await api?.close();
      await h?.close();
    });

    const token = (...args: string[]) =>
      run(process.execPath, ['--import', 'tsx', path.join('scripts', 'token.ts'), ...args], {
        env,
      });

    it('creates (token on stdout only), lists and revokes; the API honours each', async () => {
      const created = await token('create', 'cli-ro', '--read-only');
      const secret = created.stdout.trim();
      expect(secret).to.match(/^sc_[A-Za-z0-9_-]{43}$/);
      expect(created.stderr).to.contain('shown only this once');

      expect((await call(api, 'GET', '/deployments')).status).to.equal(401);
      expect((await call(api, 'GET', '/deployments', { token: secret })).status).to.equal(200);
      const act = await call(api, 'POST', '/deployments', {
        token: secret,
        body: { manifest: buildManifest() },
      });
      expect(act.status).to.equal(403);

      const listed = await token('list');
      expect(listed.stdout).to.match(/^cli-ro\tread-only\t\d{4}-/);
      expect(listed.stdout).not.to.contain(secret);

      await token('revoke', 'cli-ro');
      expect((await call(api, 'GET', '/deployments', { token: secret })).status).to.equal(401);
      expect((await call(api, 'GET', '/deployments')).status).to.equal(200);
    });

    it('exits 1 for an unknown name or a taken one, 2 for bad usage', async () => {
      const code = (p: Promise<unknown>) =>
        p.then(
          () => 0,
          (err: { code: number }) => err.code,
        );
      expect(await code(token('revoke', 'nobody'))).to.equal(1);
      await token('create', 'twice');
      expect(await code(token('create', 'twice'))).to.equal(1);
      await token('revoke', 'twice');
      // usage errors exit before touching the database
      const usage = [
        ['create', 'a b'],
        ['create', 'x', '--admin'],
        ['revoke', 'a', 'b'],
      ];
      const codes = await Promise.all(usage.map((args) => code(token(...args))));
      expect(codes).to.deep.equal([2, 2, 2]);
    });
  });
});
