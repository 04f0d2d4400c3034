/**
 * Issue 7, finding 1: env names that make a shell or the dynamic loader run code are refused
 * (API, and again on the target), and the target reads env values as data: a hostile value
 * reaches the service verbatim and runs nothing, on a local target and over SSH.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DENIED_ENV, DENIED_ENV_PREFIXES } from '../../shared/env-names.js';
import { formatIssues, manifestSchema } from '../../shared/manifest.js';
import { shellEnvFile } from '../../shared/shell.js';
import { buildManifest } from '../factories.js';
import { useDeploySuite } from '../helpers/deploy-suite.js';
import { freePort } from '../helpers/ports.js';
import { requireBinary, SSHD_BINARY } from '../helpers/sshd.js';
import {
  assembleRelease,
  cleanUp,
  lastLine,
  manage,
  manageWith,
  ok,
  procStat,
  resultOf,
  ROOT,
  run,
} from '../helpers/target-release.js';

const COMMON_SH = path.join(ROOT, 'scripts/target/lib/common.sh');

/** Names the deny list must refuse: every exact name and a few of each prefix. */
const DENIED_NAMES = [
  ...Object.keys(DENIED_ENV),
  ...Object.keys(DENIED_ENV_PREFIXES).flatMap((p) => [`${p}X`, `${p}PRELOAD`, p]),
  'LD_PRELOAD',
  'LD_LIBRARY_PATH',
  'LD_AUDIT',
];
const ALLOWED_NAMES = ['GREETING', 'NODE_ENV', 'LD', 'XLD_PRELOAD', 'BASH', 'MY_BASH_ENV', 'ps4'];

/** A unique marker path prefix: a hostile value tries to create `<marker>-<letter>`. */
const newMarker = (): string =>
  path.join(os.tmpdir(), `stagecoach-pwned-${randomBytes(6).toString('hex')}`);

/** A value a shell would run in every way it could: $(…), `…`, `;`, quotes, newlines. */
const hostileValue = (m: string): string =>
  `$(touch ${m}-a) \`touch ${m}-b\` ; touch ${m}-c && echo '${m}' "$(touch ${m}-d)" \\ $HOME\nline2 '\\''`;

const markersIn = (m: string): string[] =>
  ['a', 'b', 'c', 'd', 'e'].map((x) => `${m}-${x}`).filter((f) => existsSync(f));

/** Runs `denied_env_name` of lib/common.sh for each name; returns the refused ones. */
async function targetRefuses(names: string[]): Promise<string[]> {
  const script = `source "$1"; shift; for n in "$@"; do if denied_env_name "$n"; then printf '%s\\n' "$n"; fi; done`;
  const r = ok(await run('bash', ['-c', script, '_', COMMON_SH, ...names]));
  return r.stdout.split('\n').filter(Boolean);
}

describe('security: env names that run code (manifest schema)', () => {
  for (const name of DENIED_NAMES) {
    it(`refuses ${name} with a reason`, () => {
      const result = manifestSchema.safeParse(buildManifest({ env: { [name]: 'x', OK: 'y' } }));
      expect(result.success).to.equal(false);
      const issues = formatIssues(result.error!);
      expect(issues.map((i) => i.path)).to.deep.equal([`env.${name}`]);
      expect(issues[0].message).to.contain(`${name} is not allowed: `);
    });
  }

  it('accepts names that only resemble denied ones', () => {
    const env = Object.fromEntries(ALLOWED_NAMES.map((n) => [n, 'v']));
    expect(manifestSchema.parse(buildManifest({ env })).env).to.deep.equal(env);
  });
});

describe('security: the target reads env files as data (lib/common.sh)', () => {
  it('denied_env_name refuses exactly what shared/env-names.ts refuses', async () => {
    expect(await targetRefuses([...DENIED_NAMES, ...ALLOWED_NAMES])).to.deep.equal(DENIED_NAMES);
  });

  it('read_env_file yields exactly the values shellEnvFile wrote, and runs nothing', async () => {
    const m = newMarker();
    const vars: Record<string, string> = {
      PLAIN: 'plain',
      EMPTY: '',
      QUOTE: "'",
      QUOTES: "''a'''",
      HOSTILE: hostileValue(m),
      NEWLINES: '\n\nx\n',
      BACKSLASHES: "\\\\'\\",
      UNICODE: 'é 漢字 \u0001\t\r',
      EQUALS: 'a=b=c',
      BIG: `${"'".repeat(3000)}x`.repeat(3),
    };
    const dir = await mkdtemp(path.join(os.tmpdir(), 'stagecoach-envfile-'));
    try {
      const file = path.join(dir, 'app.env');
      await writeFile(file, shellEnvFile(vars));
      const script =
        'source "$1"; read_env_file "$2"; for k in "${!ENV_FILE[@]}"; do printf "%s=%s\\0" "$k" "${ENV_FILE[$k]}"; done';
      const r = ok(await run('bash', ['-c', script, '_', COMMON_SH, file]));
      const got = Object.fromEntries(
        r.stdout
          .split('\0')
          .filter(Boolean)
          .map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
      );
      expect(got).to.deep.equal(vars);
      expect(markersIn(m)).to.deep.equal([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  const malformed: [string, string][] = [
    ['a command', 'id\n'],
    ['an unquoted substitution', 'A=$(id)\n'],
    ['an unclosed quote', "A='x\n"],
    ['a name that is not one', "1A='x'\n"],
    ['no final newline', "A='x'"],
  ];
  for (const [what, text] of malformed) {
    it(`read_env_file refuses ${what} (exit 2)`, async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'stagecoach-envfile-'));
      try {
        await writeFile(path.join(dir, 'x.env'), text);
        const r = await run('bash', [
          '-c',
          'RELEASE_DIR=.; source "$1"; read_env_file "$2"',
          '_',
          COMMON_SH,
          path.join(dir, 'x.env'),
        ]);
        expect(r.code, r.stderr).to.equal(2);
        expect(lastLine(r.stderr)).to.contain('is not a KEY=value file');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('security: env on a local target (manage.sh)', function () {
  this.timeout(60_000);
  let home: string | undefined;
  const pids = new Set<number>();

  before(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'stagecoach-envsec-'));
  });

  after(async () => {
    await cleanUp(home, pids);
  });

  /** A hello-web release `name` with env and (optional) build; returns the web port. */
  async function release(name: string, env: Record<string, string>, build?: string) {
    const port = await freePort();
    await assembleRelease(home!, name, {
      scenario: 'hello-web',
      services: [{ name: 'web', port, start: 'node server.js', build }],
      env,
      healthTimeout: 20,
    });
    return port;
  }

  // regression: `source app.env` + `export` + `bash -c` ran BASH_ENV's command substitution
  for (const cmd of ['start', 'build']) {
    it(`${cmd}: a denied name that slipped into config/app.env is refused (exit 2) and runs nothing`, async () => {
      const m = newMarker();
      await release(
        `slip-${cmd}`,
        {
          BASH_ENV: `$(touch ${m}-a)`,
          PS4: `$(touch ${m}-b)`,
        },
        'true',
      );
      const r = await manage(home!, `slip-${cmd}`, cmd);
      if (cmd === 'start' && r.code === 0) {
        pids.add(resultOf(r).services[0].pid);
      }
      expect(markersIn(m), 'commands run from env names').to.deep.equal([]);
      expect(r.code, r.stdout + r.stderr).to.equal(2);
      expect(lastLine(r.stderr)).to.contain('config/app.env sets BASH_ENV PS4:');
    });
  }

  it('a hostile value reaches the service and its build verbatim and runs nothing', async () => {
    const m = newMarker();
    const value = hostileValue(m);
    const port = await release(
      'hostile',
      { GREETING: value },
      `printf %s "$GREETING" > ${m}-build`,
    );
    ok(await manage(home!, 'hostile', 'build'));
    const { services } = resultOf(ok(await manage(home!, 'hostile', 'start')));
    pids.add(services[0].pid);
    ok(await manage(home!, 'hostile', 'health', '20'));
    const body = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    expect(body).to.equal(`${value} from hello-web\n`);
    expect(readFileSync(`${m}-build`, 'utf8')).to.equal(value);
    await rm(`${m}-build`, { force: true });
    expect(markersIn(m)).to.deep.equal([]);
    ok(await manage(home!, 'hostile', 'stop'));
  });

  // regression: the service inherited manage.sh's whole environment (the worker's or sshd's)
  it('the service gets exactly the inherited variables, the app env and PORT', async () => {
    const port = await release('exact', { GREETING: 'hi', TZ: 'UTC' });
    const r = ok(
      await manageWith(
        { STAGECOACH_LEASE: 'lease-1', LEAKED_SECRET: 'no', BASH_ENV: '/dev/null' },
        home!,
        'exact',
        'start',
      ),
    );
    // the recorded pid is the supervisor's (it leads the group); the service is node in it
    const pid = resultOf(r).services[0].pid as number;
    pids.add(pid);
    const environOf = (p: number) =>
      readFileSync(`/proc/${p}/environ`, 'utf8').split('\0').filter(Boolean);
    const namesOf = (env: string[]) => env.map((e) => e.slice(0, e.indexOf('='))).sort();
    const inherited = [
      'PATH',
      'HOME',
      'LANG',
      'LC_ALL',
      'TZ',
      'USER',
      'LOGNAME',
      'SHELL',
      'TMPDIR',
    ];
    const bash = ['PWD', 'SHLVL', '_'];
    const service = await until(() =>
      groupMembers(pid).find((p) => p !== pid && comm(p) === 'node'),
    );
    const environ = environOf(service);
    const allowed = new Set([...inherited, 'GREETING', 'PORT', ...bash]);
    expect(namesOf(environ).filter((n) => !allowed.has(n))).to.deep.equal([]);
    expect(environ).to.include.members(['GREETING=hi', 'TZ=UTC', `PORT=${port}`]);
    // nor does the long-lived supervisor keep the caller's environment
    const supervisor = new Set([...inherited, 'STAGECOACH_HOME', ...bash]);
    expect(namesOf(environOf(pid)).filter((n) => !supervisor.has(n))).to.deep.equal([]);
    ok(await manage(home!, 'exact', 'stop'));
  });
});

describe('security: env names and values through the API (local and SSH)', function () {
  this.timeout(240_000);
  const suite = useDeploySuite();

  it('answers 422 naming each denied name, with its reason, and stores nothing', async () => {
    const names = ['BASH_ENV', 'ENV', 'SHELLOPTS', 'PS4', 'IFS', 'LD_PRELOAD', 'LD_AUDIT'];
    const env = Object.fromEntries([...names, 'GREETING'].map((n) => [n, '$(id > /tmp/x)']));
    const res = await suite.api.call('POST', '/api/v1/deployments', {
      manifest: buildManifest({ target: { type: 'local', workdir: 'targets/denied' }, env }),
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(422);
    expect(res.body.error.code).to.equal('invalid_manifest');
    const issues = res.body.error.details.issues as { path: string; message: string }[];
    expect(issues.map((i) => i.path).sort()).to.deep.equal(names.map((n) => `env.${n}`).sort());
    for (const issue of issues) {
      expect(issue.message).to.match(/is not allowed: \S/);
    }
    const list = await suite.api.call('GET', '/api/v1/deployments');
    expect(list.body.deployments).to.deep.equal([]);
  });

  async function deployHostile(target: Record<string, unknown>): Promise<void> {
    const m = newMarker();
    const value = hostileValue(m);
    const port = await freePort();
    const res = await suite.api.call('POST', '/api/v1/deployments', {
      execute: true,
      manifest: buildManifest({
        target: target as never,
        ports: { web: port },
        env: { GREETING: value },
        health: { timeout_s: 30 },
      }),
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    suite.track(res.body.deployment.id);
    const d = await suite.api.waitFor(res.body.deployment.id, ['deployed', 'failed'], 180_000);
    expect(d.status, d.error_message).to.equal('deployed');
    const body = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    expect(body).to.equal(`${value} from hello-web\n`);
    expect(markersIn(m)).to.deep.equal([]);
  }

  it('a hostile value reaches the service verbatim on a local target and runs nothing', async () => {
    await deployHostile({ type: 'local', workdir: 'targets/hostile' });
  });

  it('a hostile value reaches the service verbatim over SSH and runs nothing', async function () {
    requireBinary(SSHD_BINARY, 'openssh-server', this);
    await deployHostile((await suite.remoteHost()).target('hostile'));
  });
});

/** The pids of process group `pgid`'s live members. */
function groupMembers(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((p) => procStat(p)?.[2] === String(pgid));
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Polls `fn` every 50 ms for up to 10 s until it returns a value. */
async function until<T>(fn: () => T | undefined): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = fn();
    if (value !== undefined) {
      return value;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('timed out');
}
