/**
 * GET /api/v1/openapi.json: a well-formed OpenAPI 3.1 document that lists every Express route,
 * and real answers of a real deployment (workers on, local target) validate against it.
 */
import { expect } from 'chai';
import { rm } from 'node:fs/promises';
import type { Express } from 'express';
import { buildManifest } from '../factories.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { serve, type ApiClient } from '../helpers/http.js';
import { collectRefs, resolvePointer, validate } from '../helpers/json-schema.js';
import { freePort } from '../helpers/ports.js';
import { copyExample } from '../helpers/scenario-dir.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const V1 = '/api/v1';
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** `METHOD /path` of every route of the app, Express's `:id` written `{id}`. */
function expressRoutes(app: Express): string[] {
  const out: string[] = [];
  const walk = (stack: Json[], prefix: string) => {
    for (const layer of stack) {
      const raw = typeof layer.rawPath === 'string' ? layer.rawPath : '';
      const base = prefix + (raw === '/' ? '' : raw);
      if (layer.route) {
        for (const m of Object.keys(layer.route.methods as Json)) {
          out.push(`${m.toUpperCase()} ${base.replace(/:(\w+)/g, '{$1}')}`);
        }
      } else if (Array.isArray(layer.handle?.stack)) {
        walk(layer.handle.stack as Json[], base);
      }
    }
  };
  walk((app as unknown as { router: { stack: Json[] } }).router.stack, '');
  return out.sort();
}

describe('api: the OpenAPI document', function () {
  this.timeout(120_000);
  let h: Harness;
  let api: ApiClient;
  let scenarios: string;
  let doc: Json;
  let deploymentId: string;

  before(async () => {
    scenarios = await copyExample('hello-web');
    h = await createHarness('postgres', { SCENARIOS_DIR: scenarios });
    h.startWorkers();
    api = await serve(h.app);
    const res = await api.call('GET', `${V1}/openapi.json`);
    expect(res.status).to.equal(200);
    doc = res.body as Json;
  });

  after(async () => {
    if (deploymentId) {
      await api.call('POST', `${V1}/deployments/${deploymentId}/stop`, {});
      await api.waitFor(deploymentId, ['stopped', 'failed'], 20_000).catch(() => undefined);
    }
    await api?.close();
    await h?.close();
    await rm(scenarios, { recursive: true, force: true });
  });

  /** Fails unless `res` is one of the document's answers for `method path` (path as in the doc). */
  function expectDocumented(method: string, path: string, res: { status: number; body: unknown }) {
    const op = doc.paths[path]?.[method.toLowerCase()] as Json | undefined;
    expect(op, `${method} ${path} in the document`).to.be.an('object');
    const answer = (op!.responses[String(res.status)] ?? op!.responses.default) as Json;
    expect(answer, `${method} ${path} documents ${res.status}`).to.be.an('object');
    if (res.body === null) {
      expect(answer.content, `${method} ${path} ${res.status} has no body`).to.equal(undefined);
      return;
    }
    const schema = answer.content?.['application/json']?.schema as unknown;
    expect(schema, `${method} ${path} ${res.status} has a JSON schema`).to.not.equal(undefined);
    const problems = validate(doc, schema, res.body);
    expect(problems, `${method} ${path} ${res.status}: ${JSON.stringify(res.body)}`).to.deep.equal(
      [],
    );
  }

  /** Calls the API and checks the answer against the document; returns it. */
  async function call(method: string, docPath: string, path: string, body?: unknown) {
    const res = await api.call(method, path, body);
    expectDocumented(method, docPath, res);
    return res;
  }

  describe('structure', () => {
    it('is OpenAPI 3.1 with operations on every path and responses on every operation', () => {
      expect(doc.openapi).to.match(/^3\.1\.\d+$/);
      expect(doc.info.title).to.be.a('string');
      expect(doc.info.version).to.be.a('string');
      expect(doc.components.securitySchemes.bearer).to.include({ type: 'http', scheme: 'bearer' });
      for (const [path, item] of Object.entries(doc.paths as Json)) {
        expect(path).to.match(/^\//);
        const ops = Object.keys(item as Json).filter((k) => METHODS.includes(k));
        expect(ops, path).to.have.length.above(0);
        for (const m of ops) {
          const op = (item as Json)[m] as Json;
          expect(Object.keys(op.responses as Json), `${m} ${path}`).to.have.length.above(0);
          const declared = ((op.parameters ?? []) as Json[]).filter((p) => p.in === 'path');
          const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((x) => x[1]);
          expect(
            declared.map((p) => p.name as string),
            `${m} ${path}`,
          ).to.deep.equal(inPath);
        }
      }
    });

    it('resolves every $ref', () => {
      const refs = collectRefs(doc);
      expect(refs).to.have.length.above(0);
      for (const ref of new Set(refs)) {
        expect(() => resolvePointer(doc, ref), ref).to.not.throw();
      }
    });

    it('lists exactly the routes of the Express app (Bull Board aside)', () => {
      const documented = Object.entries(doc.paths as Json)
        .flatMap(([path, item]) =>
          Object.keys(item as Json)
            .filter((k) => METHODS.includes(k))
            .map((m) => `${m.toUpperCase()} ${path}`),
        )
        .sort();
      expect(expressRoutes(h.app)).to.deep.equal(documented);
    });

    it('is readable without a token while the API needs one', async () => {
      const token = await call('POST', `${V1}/tokens`, `${V1}/tokens`, { name: 'openapi-t' });
      expect(token.status).to.equal(201);
      const bearer = { authorization: `Bearer ${token.body.token as string}` };
      try {
        expect((await api.call('GET', `${V1}/openapi.json`)).status).to.equal(200);
        expectDocumented('GET', `${V1}/tokens`, await api.call('GET', `${V1}/tokens`));
        const list = await fetch(`${api.url}${V1}/tokens`, { headers: bearer });
        expectDocumented('GET', `${V1}/tokens`, { status: list.status, body: await list.json() });
        expect(list.status).to.equal(200);
      } finally {
        const del = await fetch(`${api.url}${V1}/tokens/openapi-t`, {
          method: 'DELETE',
          headers: bearer,
        });
        expect(del.status).to.equal(204);
        expectDocumented('DELETE', `${V1}/tokens/{name}`, { status: del.status, body: null });
      }
    });
  });

  describe('real answers validate against it', () => {
    const D = `${V1}/deployments/{id}`;
    const at = (suffix = '') => `${V1}/deployments/${deploymentId}${suffix}`;

    it('create, execute, get, list, history, logs, releases, inspect', async () => {
      const manifest = buildManifest({
        target: { type: 'local', workdir: 'targets/openapi' },
        ports: { web: await freePort() },
      });
      const created = await call('POST', `${V1}/deployments`, `${V1}/deployments`, { manifest });
      expect(created.status).to.equal(201);
      deploymentId = created.body.deployment.id as string;

      expect((await call('POST', `${D}/execute`, at('/execute'), {})).status).to.equal(202);
      expect((await call('POST', `${D}/execute`, at('/execute'), {})).status).to.equal(409);
      const d = await api.waitFor(deploymentId, ['deployed', 'failed']);
      expect(d.status, JSON.stringify(d.deploy_result ?? d.error_message)).to.equal('deployed');

      expect((await call('GET', D, at())).body.deployment.setup_result).to.not.equal(null);
      await call('GET', `${V1}/deployments`, `${V1}/deployments?limit=1`);
      expect((await call('GET', `${D}/history`, at('/history'))).body.events).to.have.length.above(
        0,
      );
      expect((await call('GET', `${D}/logs`, at('/logs'))).body.logs).to.have.length.above(0);
      expect((await call('GET', `${D}/releases`, at('/releases'))).body.releases).to.have.length(1);
      expect((await call('POST', `${D}/inspect`, at('/inspect?wait=60'))).status).to.equal(200);
      expect((await call('POST', `${D}/inspect`, at('/inspect'))).status).to.equal(202);
      expect((await call('POST', `${D}/retry`, at('/retry'), {})).status).to.equal(409);
      expect((await call('POST', `${D}/stop`, at('/stop'), {})).status).to.equal(202);
      await api.waitFor(deploymentId, ['stopped', 'failed']);
    });

    it('errors: 400, 404, 409, 415, 422 in the error shape', async () => {
      const bad = { manifest: buildManifest({ target: { type: 'local', workdir: '/abs' } }) };
      expect((await call('POST', `${V1}/deployments`, `${V1}/deployments`, bad)).status).to.equal(
        422,
      );
      const taken = {
        manifest: buildManifest({ target: { type: 'local', workdir: 'targets/openapi' } }),
      };
      expect((await call('POST', `${V1}/deployments`, `${V1}/deployments`, taken)).status).to.equal(
        409,
      );
      expect((await call('POST', `${V1}/deployments`, `${V1}/deployments`, '{')).status).to.equal(
        400,
      );
      expect(
        (await call('GET', `${V1}/deployments`, `${V1}/deployments?cursor=x`)).status,
      ).to.equal(400);
      expect((await call('GET', `${V1}/deployments`, `${V1}/deployments?limit=0`)).status).to.equal(
        422,
      );
      const noJson = await fetch(`${api.url}${at('/cancel')}`, { method: 'POST' });
      expectDocumented('POST', `${D}/cancel`, { status: noJson.status, body: await noJson.json() });
      expect(noJson.status).to.equal(415);
      expect(
        (await call('POST', `${D}/rollback`, at('/rollback'), { sha256: 'x' })).status,
      ).to.equal(422);
    });

    it('GET /metrics answers the text/plain it documents', async () => {
      const res = await fetch(`${api.url}/metrics`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^text\/plain/);
      expect(doc.paths['/metrics'].get.responses['200'].content).to.have.key('text/plain');
    });

    it('every documented operation is routed (an unknown id gets a documented 404 or 422)', async () => {
      for (const [path, item] of Object.entries(doc.paths as Json)) {
        if (path === '/metrics' || path === `${V1}/events`) {
          continue; // text, and a stream that stays open: /metrics below, the feed in events.test.ts
        }
        for (const method of Object.keys(item as Json).filter((k) => METHODS.includes(k))) {
          const url = path.replace('{id}', UNKNOWN_ID).replace('{name}', 'no-such-token');
          const res = await call(
            method.toUpperCase(),
            path,
            url,
            method === 'get' ? undefined : {},
          );
          expect(res.body?.error?.message ?? '', `${method} ${path}`).to.not.match(/^no route for/);
        }
      }
    });
  });
});
