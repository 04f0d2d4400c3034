/**
 * SSE resume across API processes: a client reads a deployment's events from one API process,
 * drops mid-run, that process is SIGKILLed, and the client resumes on another API process (a
 * separate OS process with its own LISTEN session) with Last-Event-ID. What it read from both
 * must be exactly GET /history and GET /logs afterwards: same order, no gap, no repeat.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { openSse, type SseEvent } from '../helpers/sse.js';
import { createClient, type FaultApi } from './client.js';
import { startCluster, type Cluster, type ExtraApi } from './cluster.js';
import { isRunning } from './procs.js';
import { manifestFor, writeScenario } from './scenarios.js';

const TERMINAL = ['deployed', 'failed', 'stopped'];
const LINES = 30;

/**
 * A build that prints LINES lines (some on stderr), waits for `gate` (the test opens it once it
 * has resumed elsewhere, so the drop is surely mid-run), then prints LINES more.
 */
function chattyBuild(gate: string): string {
  const print = (tag: string) =>
    `for i in $(seq 1 ${LINES}); do echo ${tag}-$i; ` +
    `if [ $((i % 10)) = 0 ]; then echo ${tag}-err-$i >&2; fi; sleep 0.02; done`;
  const wait =
    `n=0; until [ -e ${gate} ] || [ $n -ge 1200 ]; do n=$((n + 1)); sleep 0.05; done; ` +
    `[ -e ${gate} ] || { echo the gate never opened >&2; exit 1; }`;
  return `${print('before')}; ${wait}; ${print('after')}`;
}

type Row = Record<string, unknown>;
const rowsOf = (events: SseEvent[], kind: string): Row[] =>
  events.filter((e) => e.event === kind).map((e) => e.data as Row);
const hasLine = (e: SseEvent, line: string): boolean =>
  e.event === 'log' && ((e.data as { chunk: string }).chunk ?? '').split('\n').includes(line);

/** Every log row of the deployment through GET /logs, paged. */
async function allLogs(api: FaultApi, id: string): Promise<Row[]> {
  const out: Row[] = [];
  for (let after = 0; ;) {
    const r = await api.call('GET', `/deployments/${id}/logs?after=${after}&limit=1000`);
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    out.push(...(r.body.logs as Row[]));
    if (r.body.logs.length < 1000) {
      return out;
    }
    after = r.body.next_after as number;
  }
}

/** Each id names the last history event and log line sent so far, across both connections. */
function expectCursorsWalk(events: SseEvent[]): void {
  let e = 0;
  let l = 0;
  for (const ev of events.filter((x) => x.event === 'history' || x.event === 'log')) {
    const id = Number((ev.data as { id: string }).id);
    if (ev.event === 'history') {
      expect(id, 'history ids ascend').to.be.greaterThan(e);
      e = id;
    } else {
      expect(id, 'log ids ascend').to.be.greaterThan(l);
      l = id;
    }
    expect(ev.id).to.equal(`e${e}-l${l}`);
  }
}

describe('faults: SSE resume on another API process', function () {
  this.timeout(150_000);
  let c: Cluster;
  let b: ExtraApi;
  let apiB: FaultApi;

  before(async () => {
    c = await startCluster({ backend: 'redis', workers: 1 });
    b = await c.addApi();
    apiB = createClient(b.url, () => c.logs());
  });
  after(async () => {
    await c?.close();
  });

  it('a stream dropped mid-run resumes with Last-Event-ID on another process, no gap or repeat', async () => {
    const gate = path.join(c.dataDir, 'gate');
    const scenario = await writeScenario(c.scenariosDir, 'chatty', { build: chattyBuild(gate) });
    const { id } = await c.api.create(await manifestFor(scenario), false);
    const urlA = c.api.url;
    const a = c.apiProc;

    const first = await openSse(`${urlA}/api/v1/deployments/${id}/events`);
    expect(first.status).to.equal(200);
    await first.until((e) => e.event === 'progress', 30_000);
    expect((await c.api.call('POST', `/deployments/${id}/execute`, {})).status).to.equal(202);
    await first.until((e) => hasLine(e, `before-${LINES}`), 90_000);
    first.abort();
    await first.ended;

    // the drop is mid-run: the build waits for the gate, which is still shut
    const atDrop = await apiB.get(id);
    expect(atDrop?.run_active, JSON.stringify(atDrop)).to.equal(true);
    expect(TERMINAL).not.to.include(atDrop?.status);
    // process A is gone for good before the client comes back; B is another OS process
    await c.kill(a);
    expect(isRunning(a)).to.equal(false);
    expect(b.proc.pid).not.to.equal(a.pid);
    expect(isRunning(b.proc)).to.equal(true);
    const refused = await fetch(`${urlA}/healthz`).then(
      () => false,
      () => true,
    );
    expect(refused, `process A (${urlA}) still answers`).to.equal(true);

    const lastId = first.events.filter((e) => e.id).at(-1)?.id;
    expect(lastId).to.match(/^e\d+-l\d+$/);
    const second = await openSse(`${b.url}/api/v1/deployments/${id}/events`, {
      'last-event-id': lastId!,
    });
    expect(second.status).to.equal(200);
    await second.until((e) => e.event === 'progress', 30_000);
    await writeFile(gate, '');
    const end = await second.until((e) => e.event === 'end', 90_000);
    expect(end.data, c.logs()).to.deep.equal({ status: 'deployed', deleted: false });
    await second.ended;

    // B delivered live what was written after the resume, not only a replay
    expect(second.events.some((e) => hasLine(e, 'after-1'))).to.equal(true);
    expect(first.events.some((e) => hasLine(e, 'after-1'))).to.equal(false);
    const got = [...first.events, ...second.events];
    expectCursorsWalk(got);
    const history = await apiB.history(id);
    expect(rowsOf(got, 'history'), 'history events').to.deep.equal(history);
    const logs = (await allLogs(apiB, id)).map(({ deployment_id: _, ...row }) => row);
    expect(
      logs.some((r) => r.stream === 'stderr'),
      'stderr lines',
    ).to.equal(true);
    expect(rowsOf(got, 'log'), 'log lines').to.deep.equal(logs);
    const text = logs.map((r) => r.chunk).join('');
    for (const tag of ['before', 'after']) {
      for (let i = 1; i <= LINES; i++) {
        expect(text).to.include(`${tag}-${i}\n`);
      }
    }
    // each half holds part of the run
    expect(rowsOf(first.events, 'history').length).to.be.greaterThan(0);
    expect(rowsOf(second.events, 'history').length).to.be.greaterThan(0);
  });
});
