/** Run control under concurrent requests: one run at a time, one winner per race. */
import { expect } from 'chai';
import { startCluster, type Backend, type Cluster } from './cluster.js';
import type { Reply } from './client.js';
import { expectSettled } from './invariants.js';
import { manifestFor } from './scenarios.js';

const summary = (replies: Reply[]) =>
  replies.map((r) => `${r.status} ${r.body?.error?.code ?? ''}`.trim());

for (const backend of ['redis', 'postgres'] as Backend[]) {
  describe(`faults: concurrent run control (${backend} queues)`, function () {
    this.timeout(120_000);
    let c: Cluster;

    before(async () => {
      c = await startCluster({ backend, workers: 2 });
    });
    after(async () => {
      await c?.close();
    });

    /** `n` deployments that are `deployed`, with no run (deployed in parallel). */
    async function deployed(n: number): Promise<string[]> {
      const ids = await Promise.all(
        Array.from({ length: n }, async () => (await c.api.create(await manifestFor())).id),
      );
      for (const id of ids) {
        await c.api.waitFor(id, ['deployed'], 60_000);
      }
      return ids;
    }

    it('50 concurrent executes of a fresh deployment start exactly one run', async () => {
      const created = await c.api.call('POST', '/deployments', { manifest: await manifestFor() });
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      const id = created.body.deployment.id;
      const replies = await Promise.all(
        Array.from({ length: 50 }, () => c.api.call('POST', `/deployments/${id}/execute`, {})),
      );
      const won = replies.filter((r) => r.status === 202);
      const lost = replies.filter((r) => r.status === 409);
      expect(won.length, `one 202 expected: ${summary(replies).join(', ')}`).to.equal(1);
      expect(lost.length, summary(replies).join(', ')).to.equal(49);
      expect(lost.every((r) => r.body.error.code === 'already_running')).to.equal(true);
      await c.api.waitFor(id, ['deployed'], 60_000);
      await expectSettled(c, [id]);
      const events = await c.api.history(id);
      const runs = new Set(events.filter((e) => e.run_id).map((e) => e.run_id));
      expect([...runs], 'one run in the history').to.deep.equal([won[0].body.run_id]);
    });

    it('execute, stop (and DELETE) fired together on a deployed deployment: one winner', async () => {
      // six rounds of all three; DELETE is the cheapest path and wins most, so four more
      // rounds race execute against stop alone
      const ids = await deployed(10);
      const ends: Record<string, string> = {};
      for (const [round, id] of ids.entries()) {
        const all = [
          ['execute', () => c.api.call('POST', `/deployments/${id}/execute`, {})],
          ['stop', () => c.api.call('POST', `/deployments/${id}/stop`, {})],
          ['delete', () => c.api.call('DELETE', `/deployments/${id}`)],
        ] as const;
        const racing = round < 6 ? all : all.slice(0, 2);
        // each action is fired first in some of the rounds
        const k = round % racing.length;
        const actions = [...racing.slice(k), ...racing.slice(0, k)];
        const replies = await Promise.all(actions.map(([, fire]) => fire()));
        const shown = `round ${round}: ${actions.map(([n], i) => `${n}=${summary([replies[i]])}`)}`;
        const ok = replies.flatMap((r, i) => (r.status < 300 ? [actions[i][0]] : []));
        expect(ok.length, `exactly one 2xx: ${shown}`).to.equal(1);
        for (const [i, r] of replies.entries()) {
          if (r.status >= 300) {
            // a request that reads the row after the DELETE committed finds no deployment
            const gone = ok[0] === 'delete' && r.status === 404;
            expect(gone || r.body?.error?.code === 'already_running', shown).to.equal(true);
            expect(gone || r.status === 409, `${actions[i][0]}: ${shown}`).to.equal(true);
          }
        }
        ends[id] = { execute: 'deployed', stop: 'stopped', delete: 'deleted' }[ok[0]];
      }
      const winners = Object.values(ends);
      for (const [id, end] of Object.entries(ends)) {
        if (end === 'deleted') {
          expect((await c.api.call('GET', `/deployments/${id}`)).status).to.equal(404);
          delete ends[id];
        } else {
          await c.api.waitFor(id, [end], 60_000);
        }
      }
      await expectSettled(c, Object.keys(ends), ends);
      console.log(`      ends: ${winners.join(', ')}`);
    });
  });
}
