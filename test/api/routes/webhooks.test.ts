/** /api/v1/webhooks without workers: validation, the secret shown once, list, delete, 404s. */
import { expect } from 'chai';
import { buildManifest } from '../../factories.js';
import { createHarness, type Harness } from '../../helpers/harness.js';
import { serve, type ApiClient } from '../../helpers/http.js';

const BASE = '/api/v1/webhooks';
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

describe('api/routes/webhooks', function () {
  this.timeout(60_000);
  let h: Harness;
  let api: ApiClient;

  before(async () => {
    h = await createHarness('postgres');
    api = await serve(h.app);
  });

  after(async () => {
    await api?.close();
    await h?.close();
  });

  async function deployment(): Promise<string> {
    const manifest = buildManifest({ target: { type: 'local', workdir: 'targets/wh' } });
    const res = await api.call('POST', '/api/v1/deployments', { manifest });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body.deployment.id as string;
  }

  it('creates a global webhook and shows its secret only at creation', async () => {
    const res = await api.call('POST', BASE, { url: 'https://hooks.example.com/in?x=1#frag' });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    const w = res.body.webhook;
    expect(Object.keys(w).sort()).to.deep.equal([
      'created_at',
      'deployment_id',
      'id',
      'secret',
      'url',
    ]);
    expect(w.url).to.equal('https://hooks.example.com/in?x=1');
    expect(w.deployment_id).to.equal(null);
    expect(w.secret).to.match(/^whsec_[A-Za-z0-9]{40}$/);

    const list = await api.call('GET', BASE);
    expect(list.status).to.equal(200);
    const listed = list.body.webhooks.find((x: { id: string }) => x.id === w.id);
    expect(listed).to.deep.equal({
      id: w.id,
      url: w.url,
      deployment_id: null,
      created_at: w.created_at,
    });
    expect(JSON.stringify(list.body)).not.to.include(w.secret);
    // at rest the secret is sealed (AES-256-GCM), never the plain value
    const row = await h.db('webhooks').where({ id: w.id }).first();
    expect(row.secret_sealed).to.match(/^v1\./);
    expect(row.secret_sealed).not.to.include(w.secret);
    expect(h.ctx.secrets!.open(row.secret_sealed)).to.equal(w.secret);
  });

  it('creates a per-deployment webhook; 404 for an unknown deployment', async () => {
    const id = await deployment();
    const res = await api.call('POST', BASE, {
      url: 'http://10.0.0.5:8080/hook',
      deployment_id: id,
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body.webhook.deployment_id).to.equal(id);
    const missing = await api.call('POST', BASE, {
      url: 'http://10.0.0.5:8080/hook',
      deployment_id: UNKNOWN_ID,
    });
    expect(missing.status).to.equal(404);
    expect(missing.body.error.code).to.equal('not_found');
  });

  const invalid: [string, unknown, string][] = [
    ['no url', {}, 'url'],
    ['a url that is not a string', { url: 42 }, 'url'],
    ['not a URL', { url: 'hooks.example.com/in' }, 'url'],
    ['ftp', { url: 'ftp://hooks.example.com/in' }, 'url'],
    ['file', { url: 'file:///etc/passwd' }, 'url'],
    ['javascript', { url: 'javascript:alert(1)' }, 'url'],
    ['credentials in the URL', { url: 'https://user:pw@hooks.example.com/' }, 'url'],
    ['a URL too long', { url: `https://example.com/${'a'.repeat(2100)}` }, 'url'],
    [
      'a malformed deployment id',
      { url: 'https://example.com/', deployment_id: 'abc' },
      'deployment_id',
    ],
    ['an unknown field', { url: 'https://example.com/', secret: 'mine' }, ''],
  ];
  for (const [what, body, path] of invalid) {
    it(`422 invalid_request for ${what}`, async () => {
      const res = await api.call('POST', BASE, body);
      expect(res.status, JSON.stringify(res.body)).to.equal(422);
      expect(res.body.error.code).to.equal('invalid_request');
      const paths = res.body.error.details.issues.map((i: { path: string }) => i.path);
      expect(paths.join(',')).to.include(path);
    });
  }

  it('422 invalid_query for a bad deliveries limit', async () => {
    const created = await api.call('POST', BASE, { url: 'https://example.com/q' });
    const res = await api.call('GET', `${BASE}/${created.body.webhook.id}/deliveries?limit=0`);
    expect(res.status).to.equal(422);
    expect(res.body.error.code).to.equal('invalid_query');
  });

  it('deletes a webhook (204), then 404 for it and its deliveries', async () => {
    const created = await api.call('POST', BASE, { url: 'https://example.com/del' });
    const id = created.body.webhook.id as string;
    expect((await api.call('GET', `${BASE}/${id}/deliveries`)).body).to.deep.equal({
      deliveries: [],
    });
    expect((await api.call('DELETE', `${BASE}/${id}`)).status).to.equal(204);
    expect((await api.call('DELETE', `${BASE}/${id}`)).status).to.equal(404);
    expect((await api.call('GET', `${BASE}/${id}/deliveries`)).status).to.equal(404);
    expect((await api.call('DELETE', `${BASE}/not-a-uuid`)).status).to.equal(404);
    const list = await api.call('GET', BASE);
    expect(list.body.webhooks.map((x: { id: string }) => x.id)).not.to.include(id);
  });

  it('needs a full token: a read-only token gets 403, reads included', async () => {
    // the last test of the file: from here on the API needs a token
    const full = await api.call('POST', '/api/v1/tokens', { name: 'wh-full' });
    const call = (token: string, method: string, body?: unknown, path = BASE) =>
      fetch(`${api.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const ro = (await (
      await call(full.body.token, 'POST', { name: 'wh-ro', read_only: true }, '/api/v1/tokens')
    ).json()) as { token: string };
    expect((await call(ro.token, 'GET')).status).to.equal(403);
    expect((await call(ro.token, 'POST', { url: 'https://example.com/' })).status).to.equal(403);
    expect((await call(full.body.token, 'GET')).status).to.equal(200);
  });
});
