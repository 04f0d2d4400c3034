/** judgeHealth (workers/health-watch.ts): the verdict on inspect results with supervision. */
import { expect } from 'chai';
import { judgeHealth } from '../../workers/health-watch.js';

/** A service as manage.sh status reports it, supervised. */
function service(name: string, running: boolean, state: string, restarts = 0) {
  return { name, pid: 10, running, port: 8080, state, restarts, last_exit: null, since: 'x' };
}

describe('judgeHealth with supervised services', () => {
  it('all running (restarts or not) is healthy', () => {
    const h = judgeHealth({
      ok: true,
      services: [service('web', true, 'running', 2), service('api', true, 'running')],
    });
    expect(h.state).to.equal('healthy');
    expect(h.services).to.deep.equal([
      { name: 'web', running: true },
      { name: 'api', running: true },
    ]);
  });

  it('a service waiting to restart makes the deployment degraded', () => {
    const h = judgeHealth({
      ok: false,
      services: [service('web', false, 'backoff', 1), service('api', true, 'running')],
    });
    expect(h.state).to.equal('degraded');
  });

  it('a service whose supervisor gave up is down, even if it claims to run', () => {
    const h = judgeHealth({ ok: false, services: [service('web', true, 'down', 4)] });
    expect(h.state).to.equal('down');
    expect(h.services).to.deep.equal([{ name: 'web', running: false }]);
  });

  it('services of a release without supervision are judged by running alone', () => {
    const h = judgeHealth({ ok: true, services: [{ name: 'web', running: true }] });
    expect(h.state).to.equal('healthy');
  });
});
