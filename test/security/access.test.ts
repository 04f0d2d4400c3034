/**
 * Finding 8 (issue 7): with no token, state changes were open to any web page. Cross-site
 * simple requests (text/plain, forms, bodiless POSTs) are refused with 415, foreign Host values
 * with 421 before anything is read, Bull Board is read-only until a token exists; and the rate
 * limit answers 429 with Retry-After.
 */
import { expect } from 'chai';
import { request } from 'node:http';
import { buildManifest } from '../factories.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { serve, type ApiClient } from '../helpers/http.js';
import { createToken } from '../../shared/repositories/tokens.js';

const BASE = '/api/v1/deployments';

interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** One request through node:http (fetch drops a Host header it is given). */
function raw(
  url: string,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<RawReply> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: opts.method ?? 'GET',
        path: opts.path,
        headers: {
          ...(opts.body === undefined ? {} : { 'content-length': Buffer.byteLength(opts.body) }),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : null;
          } catch {
            // HTML (the dashboard) stays text
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** What a refused state change must leave untouched: the row, its history, the outbox. */
async function snapshot(h: Harness, id: string) {
  const row = await h.db('deployments').where({ id }).first('status', 'run_kind', 'deleted_at');
  const [{ n: events }] = await h.db('deployment_events').where({ deployment_id: id }).count({
    n: '*',
  });
  const [{ n: outbox }] = await h.db('job_outbox').count({ n: '*' });
  const [{ n: deployments }] = await h.db('deployments').count({ n: '*' });
  return { row, events, outbox, deployments };
}

describe('security: cross-site requests, Host, Bull Board, rate limit (finding 8)', function () {
  this.timeout(60_000);

  describe('with no token (the open loopback API)', () => {
    let h: Harness;
    let api: ApiClient;
    let id: string;

    before(async () => {
      h = await createHarness('redis');
      api = await serve(h.app);
      const created = await api.call('POST', BASE, { manifest: buildManifest() });
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      id = created.body.deployment.id;
    });

    after(async () => {
      await api?.close();
      await h?.close();
    });

    const simple: [string, Record<string, string>, string | undefined][] = [
      ['text/plain', { 'content-type': 'text/plain' }, '{"execute":true}'],
      ['a form', { 'content-type': 'application/x-www-form-urlencoded' }, 'execute=true'],
      ['multipart', { 'content-type': 'multipart/form-data; boundary=x' }, '--x--'],
      ['no content type and no body (sendBeacon)', {}, undefined],
      ['no content type with a JSON body', {}, '{}'],
    ];
    for (const [what, headers, body] of simple) {
      for (const action of ['execute', 'stop', 'redeploy', 'cancel', 'inspect']) {
        it(`refuses ${what} POST /${action} with 415 and changes nothing`, async () => {
          const before = await snapshot(h, id);
          const res = await raw(api.url, {
            method: 'POST',
            path: `${BASE}/${id}/${action}`,
            headers,
            body,
          });
          expect(res.status, JSON.stringify(res.body)).to.equal(415);
          expect(res.body.error.code).to.equal('unsupported_media_type');
          expect(await snapshot(h, id)).to.deep.equal(before);
        });
      }
    }

    it('refuses a text/plain create with 415 and stores nothing', async () => {
      const before = await snapshot(h, id);
      const res = await raw(api.url, {
        method: 'POST',
        path: BASE,
        headers: { 'content-type': 'text/plain' },
        body: JSON.stringify({ manifest: buildManifest({ name: 'csrf' }), execute: true }),
      });
      expect(res.status).to.equal(415);
      expect(await snapshot(h, id)).to.deep.equal(before);
    });

    it('refuses PUT/PATCH without JSON and a DELETE with a non-JSON body; a bodiless DELETE passes', async () => {
      for (const method of ['PUT', 'PATCH']) {
        const res = await raw(api.url, { method, path: `${BASE}/${id}` });
        expect(res.status, method).to.equal(415);
      }
      const before = await snapshot(h, id);
      const withBody = await raw(api.url, {
        method: 'DELETE',
        path: `${BASE}/${id}`,
        headers: { 'content-type': 'text/plain' },
        body: 'x',
      });
      expect(withBody.status).to.equal(415);
      expect(await snapshot(h, id)).to.deep.equal(before);
      // a browser cannot send a cross-site DELETE without a preflight this API never grants
      const other = await api.call('POST', BASE, {
        manifest: buildManifest({ target: { type: 'local', workdir: 'targets/del' } }),
      });
      const del = await raw(api.url, {
        method: 'DELETE',
        path: `${BASE}/${other.body.deployment.id}`,
      });
      expect(del.status).to.equal(204);
    });

    it('accepts application/json with a charset, and a bodiless JSON POST', async () => {
      const res = await raw(api.url, {
        method: 'POST',
        path: `${BASE}/${id}/cancel`,
        headers: { 'content-type': 'application/json; charset=utf-8' },
      });
      // reaches the route: nothing runs, so cancel is an invalid state
      expect(res.status, JSON.stringify(res.body)).to.equal(409);
      expect(res.body.error.code).to.equal('invalid_state');
    });

    it('answers no CORS preflight (a cross-site JSON POST never gets through)', async () => {
      const res = await raw(api.url, {
        method: 'OPTIONS',
        path: `${BASE}/${id}/execute`,
        headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
      });
      expect(res.headers['access-control-allow-origin']).to.equal(undefined);
    });

    it('refuses a foreign Host with 421 host_not_allowed on the API and the dashboard', async () => {
      const before = await snapshot(h, id);
      for (const host of [
        'evil.example',
        `evil.example:${new URL(api.url).port}`,
        'localhost.evil.example',
        '127.0.0.2',
      ]) {
        for (const path of [
          BASE,
          `${BASE}/${id}`,
          '/admin/queues',
          '/admin/queues/api/queues',
          '/nope',
        ]) {
          const res = await raw(api.url, { path, headers: { host } });
          expect(res.status, `${host} ${path}`).to.equal(421);
          expect(res.body.error.code).to.equal('host_not_allowed');
          expect(JSON.stringify(res.body)).not.to.contain(id);
        }
        const post = await raw(api.url, {
          method: 'POST',
          path: `${BASE}/${id}/execute`,
          headers: { host, 'content-type': 'application/json' },
          body: '{}',
        });
        expect(post.status).to.equal(421);
      }
      expect(await snapshot(h, id)).to.deep.equal(before);
    });

    it('answers loopback names and the bound address with any port', async () => {
      const { port } = new URL(api.url);
      for (const host of [
        'localhost',
        `localhost:${port}`,
        '127.0.0.1',
        `127.0.0.1:${port}`,
        `[::1]:${port}`,
        'LOCALHOST.',
      ]) {
        const res = await raw(api.url, { path: `${BASE}/${id}`, headers: { host } });
        expect(res.status, host).to.equal(200);
      }
    });

    it('keeps /healthz and /readyz answering any Host (probes by address)', async () => {
      for (const path of ['/healthz', '/readyz']) {
        const res = await raw(api.url, { path, headers: { host: 'evil.example' } });
        expect(res.status, path).to.equal(200);
      }
    });

    it('serves the dashboard read-only: page and lists 200, write routes 403, queues untouched', async () => {
      expect((await raw(api.url, { path: '/admin/queues' })).status).to.equal(200);
      const list = await raw(api.url, { path: '/admin/queues/api/queues' });
      expect(list.status).to.equal(200);
      expect(list.body.queues.map((q: { readOnlyMode: boolean }) => q.readOnlyMode)).to.deep.equal([
        true,
        true,
        true,
        true,
      ]);
      const json = { 'content-type': 'application/json' };
      const writes: [string, string, string?][] = [
        ['PUT', '/admin/queues/api/queues/pause'],
        ['PUT', '/admin/queues/api/queues/build/pause'],
        ['PUT', '/admin/queues/api/queues/build/clean/completed'],
        ['PUT', '/admin/queues/api/queues/build/retry/failed'],
        ['PUT', '/admin/queues/api/queues/build/empty'],
        ['PUT', '/admin/queues/api/queues/build/obliterate'],
        ['POST', '/admin/queues/api/queues/build/add', '{"name":"build","data":{}}'],
        ['PATCH', '/admin/queues/api/queues/build/x/update-data', '{"jobData":{}}'],
      ];
      for (const [method, path, body] of writes) {
        for (const headers of [json, { 'content-type': 'text/plain' }]) {
          const res = await raw(api.url, { method, path, headers, body: body ?? '{}' });
          expect(res.status, `${method} ${path}`).to.equal(403);
          expect(res.body.error.code).to.equal('forbidden');
        }
      }
      const build = h.queues.queue('build');
      expect(await build.isPaused()).to.equal(false);
      expect(await build.getJobCountByTypes('waiting', 'delayed', 'prioritized')).to.equal(0);
    });
  });

  describe('ALLOWED_HOSTS', () => {
    let h: Harness;
    let api: ApiClient;

    before(async () => {
      h = await createHarness('redis', { ALLOWED_HOSTS: 'Evil.Example, stagecoach.internal' });
      api = await serve(h.app);
    });

    after(async () => {
      await api?.close();
      await h?.close();
    });

    it('answers a listed name (any port, any case) and still refuses others', async () => {
      for (const host of [
        'evil.example',
        'EVIL.example:8443',
        'stagecoach.internal',
        'localhost',
      ]) {
        const res = await raw(api.url, { path: BASE, headers: { host } });
        expect(res.status, host).to.equal(200);
      }
      for (const host of ['other.example', 'sub.evil.example', 'evil.example.attacker.net']) {
        const res = await raw(api.url, { path: BASE, headers: { host } });
        expect(res.status, host).to.equal(421);
      }
    });
  });

  describe('Bull Board once a token is configured', () => {
    const TOKEN = 'b'.repeat(24);
    let h: Harness;
    let api: ApiClient;
    let viewer: string;

    before(async () => {
      h = await createHarness('redis', { API_TOKEN: TOKEN });
      api = await serve(h.app);
      viewer = (await createToken(h.db, { name: 'viewer', readOnly: true })).token;
    });

    after(async () => {
      await api?.close();
      await h?.close();
    });

    const pause = (authorization?: string) =>
      raw(api.url, {
        method: 'PUT',
        path: '/admin/queues/api/queues/build/pause',
        headers: {
          'content-type': 'application/json',
          ...(authorization ? { authorization } : {}),
        },
        body: '{}',
      });

    it('needs the token: 401 without it, 403 for a read-only token, 200 with a full one', async () => {
      const build = h.queues.queue('build');
      expect((await pause()).status).to.equal(401);
      expect((await raw(api.url, { path: '/admin/queues' })).status).to.equal(401);
      const ro = await pause(`Bearer ${viewer}`);
      expect(ro.status).to.equal(403);
      expect(ro.body.error.code).to.equal('forbidden');
      expect(await build.isPaused()).to.equal(false);
      const list = await raw(api.url, {
        path: '/admin/queues/api/queues',
        headers: { authorization: `Bearer ${viewer}` },
      });
      expect(list.status).to.equal(200);
      expect(list.body.queues[0].readOnlyMode).to.equal(true);

      expect((await pause(`Bearer ${TOKEN}`)).status).to.equal(200);
      expect(await build.isPaused()).to.equal(true);
      await build.resume();
    });
  });

  describe('rate limit', () => {
    const LIMIT = 5;
    let h: Harness;
    let api: ApiClient;

    before(async () => {
      h = await createHarness('redis', { RATE_LIMIT_PER_MINUTE: String(LIMIT) });
      api = await serve(h.app);
    });

    after(async () => {
      await api?.close();
      await h?.close();
    });

    it('answers 429 rate_limited with Retry-After past the limit; probes stay exempt', async () => {
      for (let i = 0; i < LIMIT; i++) {
        expect((await raw(api.url, { path: BASE })).status, `request ${i + 1}`).to.equal(200);
      }
      const over = await raw(api.url, { path: BASE });
      expect(over.status).to.equal(429);
      expect(over.body.error.code).to.equal('rate_limited');
      const retryAfter = Number(over.headers['retry-after']);
      expect(retryAfter).to.be.within(1, 60);
      // the dashboard shares the client's count
      expect((await raw(api.url, { path: '/admin/queues/api/queues' })).status).to.equal(429);
      for (const path of ['/healthz', '/readyz', '/healthz', '/readyz']) {
        expect((await raw(api.url, { path })).status, path).to.equal(200);
      }
    });

    it('counts each token apart from the client address and from other tokens', async () => {
      // the address is over its limit (previous test); a token has its own count
      const a = (await createToken(h.db, { name: 'a', readOnly: true })).token;
      const b = (await createToken(h.db, { name: 'b', readOnly: true })).token;
      const get = (token: string) =>
        raw(api.url, { path: BASE, headers: { authorization: `Bearer ${token}` } });
      for (let i = 0; i < LIMIT; i++) {
        expect((await get(a)).status, `a ${i + 1}`).to.equal(200);
      }
      const over = await get(a);
      expect(over.status).to.equal(429);
      expect(over.headers['retry-after']).to.match(/^\d+$/);
      expect((await get(b)).status).to.equal(200);
    });
  });
});
