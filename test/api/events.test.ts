/**
 * Live events (SSE) from two API apps over one database, each with its own LISTEN session:
 * a hello-web deploy read in two halves from different instances equals the database's rows.
 */
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { expect } from 'chai';
import { EventHub } from '../../api/events/hub.js';
import { createApp } from '../../api/app.js';
import { tokenFromQuery } from '../../api/routes/events.js';
import { createLogger } from '../../shared/logger.js';
import { buildManifest } from '../factories.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { TEST_DATABASE_URL } from '../helpers/env.js';
import { serve, type ApiClient } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { copyExample } from '../helpers/scenario-dir.js';
import { openSse, type SseEvent } from '../helpers/sse.js';

const TOKEN = 'events-test-token-0123456789';

describe('live events (SSE)', function () {
  this.timeout(120_000);
  let h: Harness;
  let a: ApiClient;
  let b: ApiClient;
  let locked: ApiClient;
  let scenarios: string;
  const hubs: EventHub[] = [];
  const ids: string[] = [];

  /** A second API instance over the same database, with a hub (LISTEN session) of its own. */
  function instance(config = h.config) {
    const logger = createLogger('silent');
    const events = new EventHub(TEST_DATABASE_URL, logger);
    hubs.push(events);
    const relay = { kick: () => undefined };
    return createApp({ db: h.db, queues: h.queues, relay, secrets: null, config, logger, events });
  }

  before(async () => {
    scenarios = await copyExample('hello-web');
    h = await createHarness('postgres', { SCENARIOS_DIR: scenarios, SSE_KEEPALIVE_SECONDS: '1' });
    h.startWorkers();
    a = await serve(instance());
    b = await serve(instance());
    locked = await serve(instance({ ...h.config, API_TOKEN: TOKEN }));
  });

  after(async () => {
    for (const id of ids) {
      await a.call('POST', `/api/v1/deployments/${id}/stop`, {});
      await a.waitFor(id, ['stopped', 'failed'], 20_000).catch(() => undefined);
    }
    await Promise.all(hubs.map((hub) => hub.close()));
    await Promise.all([a, b, locked].map((c) => c?.close()));
    await h?.close();
    await rm(scenarios, { recursive: true, force: true });
  });

  async function create(): Promise<string> {
    const manifest = buildManifest({
      target: { type: 'local', workdir: `targets/${randomUUID()}` },
      ports: { web: await freePort() },
    });
    const res = await a.call('POST', '/api/v1/deployments', { manifest });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    ids.push(res.body.deployment.id);
    return res.body.deployment.id as string;
  }

  const idsOf = (events: SseEvent[], kind: string) =>
    events.filter((e) => e.event === kind).map((e) => (e.data as { id: string }).id);

  it('delivers a run across a reconnect to another instance, with no gap or repeat', async () => {
    const id = await create();
    const feed = await openSse(`${b.url}/api/v1/events`);
    const first = await openSse(`${a.url}/api/v1/deployments/${id}/events`);
    expect(first.status).to.equal(200);
    await first.until((e) => e.event === 'progress');
    expect((await a.call('POST', `/api/v1/deployments/${id}/execute`, {})).status).to.equal(202);

    // leave mid-run: after the first log line of the setup stage
    await first.until((e) => e.event === 'log' && (e.data as { stage: string }).stage === 'setup');
    first.abort();
    await first.ended;
    const lastId = first.events.filter((e) => e.id).at(-1)!.id!;
    expect(lastId).to.match(/^e\d+-l\d+$/);

    const second = await openSse(`${b.url}/api/v1/deployments/${id}/events`, {
      'last-event-id': lastId,
    });
    expect(second.status).to.equal(200);
    await second.ended; // the server closes the stream after `deployed`
    const end = second.events.at(-1)!;
    expect(end.event).to.equal('end');
    expect(end.data).to.deep.include({ status: 'deployed' });

    const got = [...first.events, ...second.events];
    const history = (
      await h.db('deployment_events').where({ deployment_id: id }).orderBy('id')
    ).map((r: { id: string }) => String(r.id));
    const logs = (await h.db('deployment_logs').where({ deployment_id: id }).orderBy('id')).map(
      (r: { id: string }) => String(r.id),
    );
    expect(logs.length).to.be.greaterThan(0);
    expect(idsOf(got, 'history'), 'history events').to.deep.equal(history);
    expect(idsOf(got, 'log'), 'log lines').to.deep.equal(logs);
    expect(second.events.some((e) => e.event === 'progress')).to.equal(true);

    // the dashboard feed (on the other instance) saw the status changes
    const statuses = await (async () => {
      await feed.until(
        (e) =>
          e.event === 'deployment' &&
          (e.data as { status: string; run_active: boolean }).status === 'deployed' &&
          !(e.data as { run_active: boolean }).run_active,
        10_000,
      );
      return feed.events
        .filter((e) => e.event === 'deployment' && (e.data as { id: string }).id === id)
        .map((e) => (e.data as { status: string }).status);
    })();
    // the feed is state, not history: a fast change may fold into the next, so the intermediate
    // states are not all guaranteed, only that some are seen live before `deployed`
    expect(statuses).to.include('deployed');
    const between = statuses.filter((st) =>
      ['setup_running', 'setup_complete', 'deploying'].includes(st),
    );
    expect(between.length, 'intermediate statuses seen').to.be.greaterThan(0);
    // keepalives every SSE_KEEPALIVE_SECONDS (1 s here): a run can end sooner, so wait for one
    for (const until = Date.now() + 10_000; !feed.comments.includes('keepalive');) {
      expect(Date.now(), 'a keepalive comment within 10 s').to.be.below(until);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    feed.abort();

    // a reconnect after the end with nothing new: 204, so EventSource stops reconnecting
    const again = await fetch(`${a.url}/api/v1/deployments/${id}/events`, {
      headers: { 'last-event-id': second.events.filter((e) => e.id).at(-1)!.id! },
    });
    expect(again.status).to.equal(204);
  });

  it('answers 404 for unknown deployments and 400 for a foreign Last-Event-ID', async () => {
    for (const bad of [randomUUID(), 'not-a-uuid']) {
      const res = await fetch(`${a.url}/api/v1/deployments/${bad}/events`);
      expect(res.status).to.equal(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).to.equal('not_found');
    }
    const id = await create();
    const res = await fetch(`${a.url}/api/v1/deployments/${id}/events`, {
      headers: { 'last-event-id': '42' },
    });
    expect(res.status).to.equal(400);
  });

  it('takes ?access_token= for EventSource, cut from the URL before anything sees it', async () => {
    expect((await fetch(`${locked.url}/api/v1/events`)).status).to.equal(401);
    const stream = await openSse(`${locked.url}/api/v1/events?access_token=${TOKEN}`);
    expect(stream.status).to.equal(200);
    stream.abort();
    const wrong = await fetch(`${locked.url}/api/v1/events?access_token=wrong-token-0123456789`);
    expect(wrong.status).to.equal(401);

    const url = `/api/v1/deployments/${randomUUID()}/events?access_token=${TOKEN}&x=1`;
    const req = { method: 'GET', path: url.split('?')[0], url, originalUrl: url, headers: {} };
    tokenFromQuery(req as never, {} as never, () => undefined);
    expect(req.url).to.equal(`${url.split('?')[0]}?x=1`);
    expect(req.originalUrl).to.equal(req.url);
    expect(req.headers).to.deep.equal({ authorization: `Bearer ${TOKEN}` });
  });
});
