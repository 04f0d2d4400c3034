/** One live owner per edge domain on a target host, enforced by the database at create. */
import { expect } from 'chai';
import { buildManifest } from '../factories.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { serve, type ApiClient } from '../helpers/http.js';

describe('edge domain ownership (409 domain_in_use)', function () {
  this.timeout(30_000);
  let h: Harness;
  let api: ApiClient;

  before(async () => {
    h = await createHarness('redis');
    api = await serve(h.app);
  });
  after(async () => {
    await api?.close();
    await h?.close();
  });

  let n = 0;
  const create = (domain: string, target?: Record<string, unknown>) =>
    api.call('POST', '/api/v1/deployments', {
      manifest: buildManifest({
        target: (target ?? { type: 'local', workdir: `targets/dom-${n++}` }) as never,
        ports: { web: 20000 + n },
        edge: { domain, tls: 'off' },
      }),
    });

  it('refuses a second live deployment with the same domain on the same host', async () => {
    expect((await create('app.test')).status).to.equal(201);
    const second = await create('APP.test');
    expect(second.status).to.equal(409);
    expect(second.body.error.code).to.equal('domain_in_use');
  });

  it('lets exactly one of many concurrent creates own a domain', async () => {
    const answers = await Promise.all(Array.from({ length: 12 }, () => create('race.test')));
    const codes = answers.map((a) => a.status).sort();
    expect(codes.filter((c) => c === 201)).to.have.length(1);
    expect(answers.filter((a) => a.status === 409).map((a) => a.body.error.code)).to.deep.equal(
      Array(11).fill('domain_in_use'),
    );
  });

  it('allows the domain on another host, and again once its owner is deleted', async () => {
    const other = { type: 'ssh', host: '192.0.2.7', user: 'deploy', workdir: '~/a' };
    expect((await create('move.test')).status).to.equal(201);
    const remote = await create('move.test', other);
    expect(remote.status, JSON.stringify(remote.body)).to.equal(201);
    const first = await create('gone.test');
    const id = first.body.deployment.id;
    expect((await api.call('DELETE', `/api/v1/deployments/${id}`)).status).to.equal(204);
    expect((await create('gone.test')).status).to.equal(201);
  });
});
