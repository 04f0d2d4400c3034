import { expect } from 'chai';
import path from 'node:path';
import { parseConfig } from '../../shared/config.js';

/** The message parseConfig throws for `env` (fails the test when it does not throw). */
function errorOf(env: NodeJS.ProcessEnv): string {
  try {
    parseConfig(env);
  } catch (err) {
    return (err as Error).message;
  }
  return expect.fail(`expected ${JSON.stringify(env)} to be rejected`);
}

const TOKEN = 't'.repeat(16);

describe('shared/config', () => {
  describe('parseConfig defaults', () => {
    it('fills every variable from an empty environment', () => {
      const c = parseConfig({});
      expect(c).to.deep.equal({
        PORT: 3000,
        HOST: '127.0.0.1',
        STAGECOACH_DATA_DIR: '.data',
        SCENARIOS_DIR: '.',
        WORKER_QUEUES: ['build', 'setup', 'deploy', 'inspect'],
        WORKER_CONCURRENCY: 4,
        EMBEDDED_PG_PORT: 54329,
        QUEUE_PREFIX: 'stagecoach',
        LOG_LEVEL: 'info',
        LOG_FORMAT: 'auto',
        SSH_KEYS_DIR: '~/.ssh',
        SSH_REUSE_SECONDS: 10,
        BUNDLE_MAX_BYTES: 2 * 1024 ** 3,
        ALLOWED_HOSTS: [],
        RATE_LIMIT_PER_MINUTE: 600,
        PREFLIGHT_MIN_DISK_MB: 1024,
        PREFLIGHT_MIN_MEMORY_MB: 256,
        RUN_LEASE_SECONDS: 60,
        RECONCILE_INTERVAL_SECONDS: 15,
        STAGE_MAX_ATTEMPTS: 3,
        STAGE_TIMEOUT_BUILD_S: 900,
        STAGE_TIMEOUT_SETUP_S: 1800,
        STAGE_TIMEOUT_DEPLOY_S: 1800,
        HOST_CONCURRENCY: 1,
        SHUTDOWN_GRACE_SECONDS: 30,
        JOB_LOCK_SECONDS: 30,
        RUN_LOG_MAX_BYTES: 16 * 1024 ** 2,
        HEALTH_WATCH_SECONDS: 60,
        SSE_KEEPALIVE_SECONDS: 15,
        WEBHOOK_MAX_ATTEMPTS: 10,
        WEBHOOK_BACKOFF_MS: 10_000,
        WEBHOOK_TIMEOUT_MS: 10_000,
        WEBHOOK_POLL_MS: 1000,
        LOG_KEEP_RUNS: 20,
        LOG_PRUNE_SECONDS: 3600,
        dataDir: path.resolve('.data'),
        scenariosDir: path.resolve('.'),
      });
      expect(c.API_TOKEN).to.equal(undefined);
      expect(c.DATABASE_URL).to.equal(undefined);
      expect(c.REDIS_URL).to.equal(undefined);
    });

    it('coerces numbers and resolves directories to absolute paths', () => {
      const c = parseConfig({
        PORT: '8080',
        WORKER_CONCURRENCY: '16',
        EMBEDDED_PG_PORT: '6000',
        STAGECOACH_DATA_DIR: '/var/lib/sc',
        SCENARIOS_DIR: 'rel/scn',
      });
      expect(c).to.include({ PORT: 8080, WORKER_CONCURRENCY: 16, EMBEDDED_PG_PORT: 6000 });
      expect(c.dataDir).to.equal('/var/lib/sc');
      expect(c.scenariosDir).to.equal(path.join(process.cwd(), 'rel/scn'));
    });

    it('treats an empty or blank DATABASE_URL / REDIS_URL as unset and keeps a real one', () => {
      expect(parseConfig({ DATABASE_URL: '', REDIS_URL: '   ' })).to.include({
        DATABASE_URL: undefined,
        REDIS_URL: undefined,
      });
      const c = parseConfig({
        DATABASE_URL: 'postgresql://u@h:5432/db',
        REDIS_URL: ' redis://h:6379 ',
      });
      expect(c.DATABASE_URL).to.equal('postgresql://u@h:5432/db');
      expect(c.REDIS_URL).to.equal('redis://h:6379');
    });

    it('ignores unrelated variables', () => {
      expect(parseConfig({ HOME: '/root', FOO: 'bar' })).not.to.have.property('FOO');
    });
  });

  describe('rejections', () => {
    const bad: [string, NodeJS.ProcessEnv, string][] = [
      ['a non-numeric PORT', { PORT: 'abc' }, 'PORT'],
      ['a PORT above 65535', { PORT: '70000' }, 'PORT'],
      ['a negative PORT', { PORT: '-1' }, 'PORT'],
      ['a fractional PORT', { PORT: '80.5' }, 'PORT'],
      ['an unknown queue', { WORKER_QUEUES: 'build,nope' }, 'WORKER_QUEUES'],
      ['an empty queue list', { WORKER_QUEUES: ' , ,' }, 'WORKER_QUEUES'],
      ['the stop job as a queue', { WORKER_QUEUES: 'stop' }, 'WORKER_QUEUES'],
      ['a WORKER_CONCURRENCY of 0', { WORKER_CONCURRENCY: '0' }, 'WORKER_CONCURRENCY'],
      ['a WORKER_CONCURRENCY over 256', { WORKER_CONCURRENCY: '257' }, 'WORKER_CONCURRENCY'],
      ['a short API_TOKEN', { API_TOKEN: 'short' }, 'API_TOKEN'],
      ['a DATABASE_URL that is no URL', { DATABASE_URL: 'not a url' }, 'DATABASE_URL'],
      ['a QUEUE_PREFIX with a colon', { QUEUE_PREFIX: 'a:b' }, 'QUEUE_PREFIX'],
      ['an unknown LOG_LEVEL', { LOG_LEVEL: 'verbose' }, 'LOG_LEVEL'],
      ['an unknown LOG_FORMAT', { LOG_FORMAT: 'yaml' }, 'LOG_FORMAT'],
    ];
    for (const [what, env, variable] of bad) {
      it(`rejects ${what} with a message naming ${variable}`, () => {
        const message = errorOf(env);
        expect(message).to.match(/^invalid configuration:\n {2}/);
        expect(message).to.match(new RegExp(`^  ${variable}(\\.\\d+)?: \\S`, 'm'));
      });
    }

    it('says what is wrong with PORT and WORKER_QUEUES', () => {
      expect(errorOf({ PORT: '70000' })).to.equal(
        'invalid configuration:\n  PORT: Too big: expected number to be <=65535',
      );
      const queues = errorOf({ WORKER_QUEUES: 'build,nope' });
      expect(queues).to.contain('WORKER_QUEUES.1:');
      expect(queues).to.contain('"build"|"setup"|"deploy"|"inspect"');
    });

    it('lists every bad variable, one per line', () => {
      const lines = errorOf({ PORT: 'x', LOG_LEVEL: 'loud', WORKER_QUEUES: 'nope' }).split('\n');
      expect(lines[0]).to.equal('invalid configuration:');
      expect(
        lines
          .slice(1)
          .map((l) => l.trim().split(':')[0])
          .sort(),
      ).to.deep.equal(['LOG_LEVEL', 'PORT', 'WORKER_QUEUES.0']);
    });

    it('names the LOG_FORMAT values, and reads an empty one as auto', () => {
      expect(errorOf({ LOG_FORMAT: 'text' })).to.equal(
        'invalid configuration:\n  LOG_FORMAT: Invalid option: expected one of "auto"|"json"|"pretty"',
      );
      expect(parseConfig({ LOG_FORMAT: '' }).LOG_FORMAT).to.equal('auto');
      expect(parseConfig({ LOG_FORMAT: 'json' }).LOG_FORMAT).to.equal('json');
    });

    // `PORT=` (an empty line in an env file) once became port 0, a random port
    it('reads an empty PORT as unset (the default), not port 0', () => {
      expect(parseConfig({ PORT: '' }).PORT).to.equal(3000);
      expect(parseConfig({ WORKER_CONCURRENCY: '' }).WORKER_CONCURRENCY).to.equal(4);
    });
  });

  describe('HOST and API_TOKEN', () => {
    for (const host of ['127.0.0.1', 'localhost', '::1']) {
      it(`allows the loopback ${host} without a token`, () => {
        expect(parseConfig({ HOST: host }).HOST).to.equal(host);
      });
    }

    for (const host of ['0.0.0.0', '::', '192.168.1.10', 'example.com']) {
      it(`rejects ${host} without API_TOKEN, naming HOST and API_TOKEN`, () => {
        const message = errorOf({ HOST: host });
        expect(message).to.contain('HOST');
        expect(message).to.contain(host);
        expect(message).to.contain('API_TOKEN');
      });
    }

    it('allows a non-loopback HOST with a 16-character token', () => {
      const c = parseConfig({ HOST: '0.0.0.0', API_TOKEN: TOKEN });
      expect(c).to.include({ HOST: '0.0.0.0', API_TOKEN: TOKEN });
    });

    it('does not accept an empty API_TOKEN as a token', () => {
      expect(() => parseConfig({ HOST: '0.0.0.0', API_TOKEN: '' })).to.throw(/API_TOKEN/);
    });
  });

  describe('WORKER_QUEUES', () => {
    it('splits on commas, trims, drops empty entries and keeps the order', () => {
      expect(
        parseConfig({ WORKER_QUEUES: ' deploy , build,,inspect ' }).WORKER_QUEUES,
      ).to.deep.equal(['deploy', 'build', 'inspect']);
      expect(parseConfig({ WORKER_QUEUES: 'setup' }).WORKER_QUEUES).to.deep.equal(['setup']);
    });

    it('is case-sensitive', () => {
      expect(errorOf({ WORKER_QUEUES: 'Build' })).to.contain('WORKER_QUEUES.0');
    });
  });
});
