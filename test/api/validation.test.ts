/** The HTTP API's validation, error shapes, listing, state checks and auth (no workers). */
import { expect } from 'chai';
import {
  buildManifest,
  buildScenario,
  makeTempDir,
  removeTempDir,
  writeFiles,
  writeScenarioDir,
} from '../factories.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { serve, type ApiClient } from '../helpers/http.js';

const BASE = '/api/v1/deployments';
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
type Issue = { path: string; message: string };

/** The paths of an invalid_manifest answer (and checks the answer's shape). */
function issuePaths(res: {
  status: number;
  body: { error: { code: string; details?: { issues: Issue[] } } };
}): string[] {
  expect(res.status, JSON.stringify(res.body)).to.equal(422);
  expect(res.body.error.code).to.equal('invalid_manifest');
  const issues = res.body.error.details!.issues;
  for (const issue of issues) {
    expect(issue.message).to.be.a('string').and.not.equal('');
  }
  return issues.map((i) => i.path);
}

describe('api: validation, errors, listing, auth', function () {
  this.timeout(60_000);
  let h: Harness;
  let api: ApiClient;
  let scenarios: string;
  let workdirs = 0;

  before(async () => {
    scenarios = await makeTempDir('stagecoach-api-scn-');
    await writeScenarioDir(scenarios);
    await writeScenarioDir(scenarios, {
      relPath: 'scn/other',
      scenario: buildScenario({ name: 'other-app' }),
    });
    await writeScenarioDir(scenarios, {
      relPath: 'scn/broken',
      scenario: { name: 'Bad Name', services: [] },
    });
    await writeFiles(scenarios, { 'scn/afile': 'not a directory\n' });
    h = await createHarness('postgres', { SCENARIOS_DIR: scenarios });
    api = await serve(h.app);
  });

  after(async () => {
    await api?.close();
    await h?.close();
    await removeTempDir(scenarios);
  });

  /** Creates a deployment on a fresh workdir; returns its id. */
  async function create(overrides: Record<string, unknown> = {}): Promise<string> {
    const manifest = buildManifest({
      target: { type: 'local', workdir: `targets/w${++workdirs}` },
      ...overrides,
    });
    const res = await api.call('POST', BASE, { manifest });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body.deployment.id as string;
  }

  const post = (manifest: unknown) => api.call('POST', BASE, { manifest });

  describe('POST /deployments', () => {
    it('creates a pending deployment with the parsed manifest', async () => {
      const res = await post(
        buildManifest({ target: { type: 'local', workdir: 'targets/created' }, env: { A: 'b' } }),
      );
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      const d = res.body.deployment;
      expect(d).to.include({
        name: 'hello-web',
        scenario: 'hello-web',
        status: 'pending',
        run_active: false,
        run_id: null,
      });
      expect(d.target_key).to.equal('local:targets/created');
      expect(d.manifest).to.deep.include({ env: { A: 'b' }, health: { timeout_s: 60 } });
      expect(d).not.to.have.property('deleted_at');
      expect(res.body).not.to.have.property('run_id');
    });

    it('answers 400 invalid_json to an unparsable body', async () => {
      const res = await api.call('POST', BASE, '{"manifest": {');
      expect(res.status).to.equal(400);
      expect(res.body).to.deep.equal({
        error: { code: 'invalid_json', message: 'request body is not valid JSON' },
      });
    });

    it('answers 422 invalid_manifest to a null or non-object manifest', async () => {
      for (const manifest of [null, 'v1', [], 1]) {
        expect(issuePaths(await post(manifest)), JSON.stringify(manifest)).to.deep.equal(['']);
      }
    });

    // regression: createBody declares `manifest: z.unknown()`, which zod v4 treats as a required
    // key, so a body without a manifest gets 422 invalid_request with the message
    // "Invalid input: expected nonoptional, received undefined" instead of invalid_manifest.
    it('answers 422 invalid_manifest to a missing manifest', async () => {
      expect(issuePaths(await api.call('POST', BASE, {}))).to.deep.equal(['']);
    });

    it('answers 422 to a body without a manifest and stores nothing', async () => {
      const before = await h.db('deployments').count({ n: '*' });
      const res = await api.call('POST', BASE, {});
      expect(res.status).to.equal(422);
      expect(res.body.error.details.issues.map((i: Issue) => i.path)).to.deep.equal([
        res.body.error.code === 'invalid_request' ? 'manifest' : '',
      ]);
      expect(await h.db('deployments').count({ n: '*' })).to.deep.equal(before);
    });

    it('answers 422 invalid_manifest with the path of every problem', async () => {
      const res = await post({
        ...buildManifest(),
        version: 2,
        ports: { web: 70000 },
        target: { type: 'local', workdir: '../escape' },
      });
      expect(issuePaths(res).sort()).to.deep.equal(['ports.web', 'target.workdir', 'version']);
    });

    it('reports reserved env names and NULs under env.*', async () => {
      const res = await post(buildManifest({ env: { PATH: '/bin', OK: 'a\0b' } }));
      expect(issuePaths(res).sort()).to.deep.equal(['env.OK', 'env.PATH']);
    });

    it('answers 422 invalid_request to an unknown top-level body key', async () => {
      const res = await api.call('POST', BASE, { manifest: buildManifest(), extra: 1 });
      expect(res.status).to.equal(422);
      expect(res.body.error.code).to.equal('invalid_request');
      expect(res.body.error.details.issues).to.deep.equal([
        { path: '', message: 'Unrecognized key: "extra"' },
      ]);
    });

    it('answers 422 invalid_request to a non-boolean execute', async () => {
      const res = await api.call('POST', BASE, { manifest: buildManifest(), execute: 'yes' });
      expect(res.status).to.equal(422);
      expect(res.body.error.code).to.equal('invalid_request');
      expect(res.body.error.details.issues.map((i: Issue) => i.path)).to.deep.equal(['execute']);
    });

    for (const [what, scenarioPath] of [
      ['does not exist', 'examples/nope'],
      ['is a file', 'scn/afile'],
    ] as const) {
      it(`answers 422 at scenario.path when the scenario ${what}`, async () => {
        const res = await post(
          buildManifest({
            scenario: { path: scenarioPath },
            target: { type: 'local', workdir: 'targets/nope' },
          }),
        );
        expect(issuePaths(res)).to.deep.equal(['scenario.path']);
      });
    }

    it('reports an invalid scenario.json under scenario.*', async () => {
      const res = await post(
        buildManifest({
          scenario: { path: 'scn/broken' },
          target: { type: 'local', workdir: 'targets/broken' },
        }),
      );
      expect(issuePaths(res).sort()).to.deep.equal(['scenario.name', 'scenario.services']);
    });

    it('answers 422 when a service port is missing from manifest.ports', async () => {
      const res = await post(
        buildManifest({
          ports: { other: 18081 },
          target: { type: 'local', workdir: 'targets/noport' },
        }),
      );
      expect(issuePaths(res)).to.deep.equal(['scenario.services.0.port']);
      expect(res.body.error.details.issues[0].message).to.contain('"web"');
    });

    for (const workdir of ['elsewhere/app', 'targets', 'targets/.', 'targetsx/app', 'cache/x']) {
      it(`answers 422 at target.workdir to the local workdir ${workdir}`, async () => {
        const res = await post(buildManifest({ target: { type: 'local', workdir } }));
        expect(issuePaths(res)).to.deep.equal(['target.workdir']);
      });
    }

    it('answers 409 workdir_in_use to a second deployment on the same workdir', async () => {
      const manifest = buildManifest({ target: { type: 'local', workdir: 'targets/shared' } });
      const first = await post(manifest);
      expect(first.status).to.equal(201);
      const second = await post({ ...manifest, ports: { web: 18099 } });
      expect(second.status).to.equal(409);
      expect(second.body.error.code).to.equal('workdir_in_use');
      expect(second.body.error.details).to.deep.equal({ deployment_id: first.body.deployment.id });
      const same = await post(
        buildManifest({ target: { type: 'local', workdir: 'targets/./shared' } }),
      );
      expect(same.status).to.equal(409);
      const rows = await h.db('deployments').where({ target_key: 'local:targets/shared' });
      expect(rows).to.have.length(1);
    });

    it('lets only one of two concurrent creates on one workdir win', async () => {
      const manifest = buildManifest({ target: { type: 'local', workdir: 'targets/race' } });
      const results = await Promise.all([post(manifest), post(manifest), post(manifest)]);
      expect(results.map((r) => r.status).sort()).to.deep.equal([201, 409, 409]);
      for (const r of results.filter((x) => x.status === 409)) {
        expect(r.body.error.code).to.equal('workdir_in_use');
      }
    });

    // regression: targetKey() keeps a trailing slash (path.posix.normalize('targets/x/') is
    // 'targets/x/'), so 'targets/x' and 'targets/x/' get different keys and two live
    // deployments share one directory.
    it('treats targets/x and targets/x/ as the same workdir', async () => {
      expect(
        (await post(buildManifest({ target: { type: 'local', workdir: 'targets/slash' } }))).status,
      ).to.equal(201);
      const second = await post(
        buildManifest({ target: { type: 'local', workdir: 'targets/slash/' } }),
      );
      expect(second.status).to.equal(409);
      expect(second.body.error.code).to.equal('workdir_in_use');
    });
  });

  describe('GET /deployments/:id and unknown routes', () => {
    it('returns a deployment by id', async () => {
      const id = await create();
      const res = await api.call('GET', `${BASE}/${id}`);
      expect(res.status).to.equal(200);
      expect(res.body.deployment).to.include({ id, status: 'pending' });
    });

    for (const id of [UNKNOWN_ID, 'not-a-uuid', '1', "1'; drop table deployments; --"]) {
      it(`answers 404 not_found to ${JSON.stringify(id)}`, async () => {
        const res = await api.call('GET', `${BASE}/${encodeURIComponent(id)}`);
        expect(res.status).to.equal(404);
        expect(res.body).to.deep.equal({
          error: { code: 'not_found', message: 'deployment not found' },
        });
      });
    }

    it('answers 404 not_found to an unknown route', async () => {
      for (const [method, path] of [
        ['GET', '/api/v1/nope'],
        ['GET', '/nope'],
        ['PUT', BASE],
        ['POST', `${BASE}/${UNKNOWN_ID}/explode`],
      ]) {
        const res = await api.call(method, path);
        expect(res.status, `${method} ${path}`).to.equal(404);
        expect(res.body.error.code).to.equal('not_found');
        expect(res.body.error.message).to.equal(`no route for ${method} ${path}`);
      }
    });
  });

  describe('GET /deployments (list)', () => {
    let failedIds: string[];
    let otherIds: string[];

    before(async () => {
      failedIds = [await create(), await create()];
      // test set-up: two rows that failed (no run needed for a list filter)
      await h.db('deployments').whereIn('id', failedIds).update({ status: 'failed' });
      otherIds = [
        await create({ scenario: { path: 'scn/other' } }),
        await create({ scenario: { path: 'scn/other' } }),
      ];
      for (let i = 0; i < 5; i++) {
        await create();
      }
    });

    it('filters by status', async () => {
      const res = await api.call('GET', `${BASE}?status=failed`);
      expect(res.status).to.equal(200);
      expect(res.body.deployments.map((d: { id: string }) => d.id)).to.deep.equal(
        [...failedIds].reverse(),
      );
      expect(res.body.next_cursor).to.equal(null);
      const pending = await api.call('GET', `${BASE}?status=pending&limit=100`);
      expect(pending.body.deployments.length).to.be.greaterThan(5);
      expect(
        pending.body.deployments.every((d: { status: string }) => d.status === 'pending'),
      ).to.equal(true);
    });

    it('filters by scenario, and by scenario and status together', async () => {
      const res = await api.call('GET', `${BASE}?scenario=other-app`);
      expect(res.body.deployments.map((d: { id: string }) => d.id)).to.deep.equal(
        [...otherIds].reverse(),
      );
      const none = await api.call('GET', `${BASE}?scenario=other-app&status=failed`);
      expect(none.body).to.deep.equal({ deployments: [], next_cursor: null });
    });

    it('paginates through every live deployment, newest first, without duplicates or gaps', async () => {
      const expected = (
        await h
          .db('deployments')
          .whereNull('deleted_at')
          .orderBy([
            { column: 'created_at', order: 'desc' },
            { column: 'id', order: 'desc' },
          ])
      ).map((r: { id: string }) => r.id);
      expect(expected.length).to.be.greaterThan(9);
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = `${BASE}?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const res = await api.call('GET', query);
        expect(res.status).to.equal(200);
        expect(res.body.deployments.length).to.be.within(1, 3);
        seen.push(...res.body.deployments.map((d: { id: string }) => d.id));
        cursor = res.body.next_cursor;
        pages++;
        expect(pages).to.be.below(100);
      } while (cursor);
      expect(seen).to.deep.equal(expected);
      expect(pages).to.equal(Math.ceil(expected.length / 3));
    });

    it('paginates a filtered list', async () => {
      const first = await api.call('GET', `${BASE}?status=failed&limit=1`);
      expect(first.body.deployments.map((d: { id: string }) => d.id)).to.deep.equal([failedIds[1]]);
      expect(first.body.next_cursor).to.be.a('string');
      const second = await api.call(
        'GET',
        `${BASE}?status=failed&limit=1&cursor=${first.body.next_cursor}`,
      );
      expect(second.body.deployments.map((d: { id: string }) => d.id)).to.deep.equal([
        failedIds[0],
      ]);
      expect(second.body.next_cursor).to.equal(null);
    });

    for (const cursor of [
      'garbage',
      Buffer.from('{"a":1}').toString('base64url'),
      Buffer.from('["nope","x"]').toString('base64url'),
    ]) {
      it(`answers 400 invalid_cursor to the cursor ${cursor}`, async () => {
        const res = await api.call('GET', `${BASE}?cursor=${cursor}`);
        expect(res.status).to.equal(400);
        expect(res.body.error.code).to.equal('invalid_cursor');
      });
    }

    // regression: decodeCursor only checks that the id is a string, so a cursor with a
    // non-uuid id reaches `?::uuid` in SQL and the API answers 500 internal, not 400.
    it('answers 400 invalid_cursor to a cursor whose id is not a uuid', async () => {
      const cursor = Buffer.from(
        JSON.stringify(['2024-01-01T00:00:00.000000Z', 'not-a-uuid']),
      ).toString('base64url');
      const res = await api.call('GET', `${BASE}?cursor=${cursor}`);
      expect(res.status).to.equal(400);
      expect(res.body.error.code).to.equal('invalid_cursor');
    });

    for (const query of [
      'status=running',
      'status=',
      'limit=0',
      'limit=101',
      'limit=abc',
      'limit=2.5',
    ]) {
      it(`answers 422 invalid_query to ?${query}`, async () => {
        const res = await api.call('GET', `${BASE}?${query}`);
        expect(res.status).to.equal(422);
        expect(res.body.error.code).to.equal('invalid_query');
        expect(res.body.error.details.issues[0].path).to.equal(query.split('=')[0]);
      });
    }
  });

  describe('actions on a pending deployment', () => {
    let id: string;
    before(async () => {
      id = await create();
    });

    for (const action of ['retry', 'stop', 'redeploy']) {
      it(`answers 409 invalid_state to ${action}`, async () => {
        const res = await api.call('POST', `${BASE}/${id}/${action}`, {});
        expect(res.status).to.equal(409);
        expect(res.body.error.code).to.equal('invalid_state');
        expect(res.body.error.details).to.deep.equal({ status: 'pending' });
        const row = await h.db('deployments').where({ id }).first();
        expect(row).to.include({ status: 'pending', run_id: null });
      });
    }

    it('answers 404 to an action on an unknown deployment', async () => {
      const res = await api.call('POST', `${BASE}/${UNKNOWN_ID}/retry`, {});
      expect(res.status).to.equal(404);
      expect(res.body.error.code).to.equal('not_found');
    });

    it('answers 422 invalid_request to a bad action body', async () => {
      const res = await api.call('POST', `${BASE}/${id}/retry`, { force_rebuild: 'yes' });
      expect(res.status).to.equal(422);
      expect(res.body.error.code).to.equal('invalid_request');
      const extra = await api.call('POST', `${BASE}/${id}/stop`, {
        stop_resources: true,
        now: true,
      });
      expect(extra.status).to.equal(422);
      expect(extra.body.error.code).to.equal('invalid_request');
    });
  });

  describe('DELETE /deployments/:id', () => {
    it('answers 204, then 404, and keeps the row and its history in the database', async () => {
      const id = await create({ target: { type: 'local', workdir: 'targets/deleted' } });
      const del = await fetch(`${api.url}${BASE}/${id}`, { method: 'DELETE' });
      expect(del.status).to.equal(204);
      expect(await del.text()).to.equal('');
      expect((await api.call('GET', `${BASE}/${id}`)).status).to.equal(404);
      expect((await api.call('DELETE', `${BASE}/${id}`)).status).to.equal(404);
      expect((await api.call('GET', `${BASE}/${id}/history`)).status).to.equal(404);
      const listed = await api.call('GET', `${BASE}?limit=100`);
      expect(listed.body.deployments.map((d: { id: string }) => d.id)).not.to.include(id);

      const row = await h.db('deployments').where({ id }).first();
      expect(row.deleted_at).to.be.an.instanceOf(Date);
      expect(row.status).to.equal('pending');
      const events = await h.db('deployment_events').where({ deployment_id: id }).orderBy('id');
      expect(
        events.map((e: { from_status: string | null; to_status: string }) => [
          e.from_status,
          e.to_status,
        ]),
      ).to.deep.equal([[null, 'pending']]);
    });

    it('frees the workdir for a new deployment', async () => {
      const manifest = buildManifest({ target: { type: 'local', workdir: 'targets/reused' } });
      const first = await post(manifest);
      expect(first.status).to.equal(201);
      expect((await api.call('DELETE', `${BASE}/${first.body.deployment.id}`)).status).to.equal(
        204,
      );
      const second = await post(manifest);
      expect(second.status, JSON.stringify(second.body)).to.equal(201);
      expect(second.body.deployment.id).not.to.equal(first.body.deployment.id);
    });
  });

  describe('probes and dashboard', () => {
    it('/healthz answers 200 {ok: true}', async () => {
      const res = await api.call('GET', '/healthz');
      expect(res).to.deep.equal({ status: 200, body: { ok: true } });
    });

    it('/readyz answers 200 with database and queues up', async () => {
      const res = await api.call('GET', '/readyz');
      expect(res).to.deep.equal({ status: 200, body: { ok: true, database: true, queues: true } });
    });

    it('/admin/queues answers 200 with the dashboard', async () => {
      const res = await fetch(`${api.url}/admin/queues`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^text\/html/);
    });
  });

  describe('with API_TOKEN set', () => {
    const TOKEN = 'x'.repeat(20);
    let secured: Harness;
    let url: string;
    let close: () => Promise<void>;

    before(async () => {
      secured = await createHarness('postgres', { API_TOKEN: TOKEN, SCENARIOS_DIR: scenarios });
      const client = await serve(secured.app);
      url = client.url;
      close = client.close;
    });

    after(async () => {
      await close?.();
      await secured?.close();
    });

    const get = (path: string, authorization?: string) =>
      fetch(`${url}${path}`, { headers: authorization === undefined ? {} : { authorization } });

    for (const [what, header] of [
      ['no header', undefined],
      ['a wrong token', `Bearer ${'y'.repeat(20)}`],
      ['a token prefix', `Bearer ${TOKEN.slice(0, 19)}`],
      ['an empty bearer', 'Bearer '],
      ['the bare token', TOKEN],
      ['another scheme', `Basic ${TOKEN}`],
    ] as const) {
      it(`answers 401 unauthorized with ${what}`, async () => {
        for (const path of [BASE, `${BASE}/${UNKNOWN_ID}`, '/api/v1/nope', '/admin/queues']) {
          const res = await get(path, header);
          expect(res.status, path).to.equal(401);
          expect(await res.json()).to.deep.equal({
            error: { code: 'unauthorized', message: 'missing or wrong bearer token' },
          });
        }
      });
    }

    it('answers 401 to a create without the token and stores nothing', async () => {
      const res = await fetch(`${url}${BASE}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ manifest: buildManifest() }),
      });
      expect(res.status).to.equal(401);
      expect(await secured.db('deployments').count({ n: '*' })).to.deep.equal([{ n: '0' }]);
    });

    it('lets the right token through', async () => {
      const list = await get(BASE, `Bearer ${TOKEN}`);
      expect(list.status).to.equal(200);
      expect(await list.json()).to.deep.equal({ deployments: [], next_cursor: null });
      expect((await get('/admin/queues', `Bearer ${TOKEN}`)).status).to.equal(200);
      const created = await fetch(`${url}${BASE}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ manifest: buildManifest() }),
      });
      expect(created.status).to.equal(201);
    });

    it('keeps /healthz and /readyz open', async () => {
      const health = await get('/healthz');
      expect(health.status).to.equal(200);
      expect(await health.json()).to.deep.equal({ ok: true });
      expect((await get('/readyz')).status).to.equal(200);
    });
  });
});
