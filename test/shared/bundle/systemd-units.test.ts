/**
 * The generated systemd units (shared/bundle/systemd-units.ts): their text, that no name can add
 * a line, and `systemd-analyze verify` on instantiated copies where systemd-analyze is installed.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { renderConfig } from '../../../shared/bundle/render-config.js';
import {
  resourceUnitName,
  serviceUnitName,
  systemdUnits,
} from '../../../shared/bundle/systemd-units.js';
import { manifestSchema, type ManifestInput } from '../../../shared/manifest.js';
import { scenarioSchema, type Scenario } from '../../../shared/scenario.js';
import { buildManifest, buildScenario, makeTempDir } from '../../factories.js';
import { onPath, requireTools, run } from '../../helpers/target-release.js';

const sshTarget = { type: 'ssh', host: 'app.example.com', user: 'deploy' } as const;

function manifestOf(overrides: Partial<ManifestInput> = {}) {
  return manifestSchema.parse(
    buildManifest({
      target: sshTarget,
      ports: { web: 18080, api: 18081, postgres: 15432 },
      env: { SECRET_TOKEN: 'hunter2-value' },
      ...overrides,
    }),
  );
}

const scenario = scenarioSchema.parse(
  buildScenario({
    name: 'shop',
    services: [
      { name: 'web', start: 'node server.js', port: 'web' },
      { name: 'api', start: 'node api.js', port: 'api', health: '/ready' },
    ],
    resources: ['postgres', 'redis'],
  }),
);

function unit(files: Map<string, string>, name: string): string {
  const text = files.get(name);
  expect(text, name).to.be.a('string');
  return text!;
}

describe('systemdUnits', () => {
  const files = systemdUnits(manifestOf(), scenario);

  it('renders one template per service and resource, each with a backoff drop-in', () => {
    const units = [
      'stagecoach-shop-api@.service',
      'stagecoach-shop-web@.service',
      'stagecoach-shop_postgres@.service',
      'stagecoach-shop_redis@.service',
    ];
    expect([...files.keys()].sort()).to.deep.equal(
      units.flatMap((u) => [u, `${u}.d/restart-backoff.conf`]).sort(),
    );
    expect(unit(files, 'stagecoach-shop-web@.service.d/restart-backoff.conf')).to.equal(
      [
        '# stagecoach: restart backoff 1 s to 60 s in 5 steps; installed on systemd >= 254 only.',
        '[Service]',
        'RestartSteps=5',
        'RestartMaxDelaySec=60s',
        '',
      ].join('\n'),
    );
  });

  it("renders a service's unit: its record's release, restarts, start limit, boot", () => {
    const deps = 'stagecoach-shop_postgres@%i.service stagecoach-shop_redis@%i.service';
    expect(unit(files, 'stagecoach-shop-web@.service')).to.equal(
      [
        '# stagecoach: shop, service web. Generated; the next deploy overwrites it.',
        '# Instance: the workdir, systemd-escape --path <workdir> (%f is the workdir).',
        '[Unit]',
        'Description=stagecoach shop: service web (%f)',
        `Wants=network-online.target ${deps}`,
        `After=network-online.target ${deps}`,
        'StartLimitIntervalSec=300',
        'StartLimitBurst=5',
        '',
        '[Service]',
        'Type=exec',
        'Environment=STAGECOACH_HOME=%f',
        'ExecStart=%f/state/run/web.release/manage.sh exec-service web',
        'WorkingDirectory=%f',
        'User=deploy',
        'UMask=0077',
        'Restart=on-failure',
        'RestartSec=1s',
        'KillMode=control-group',
        'TimeoutStopSec=10s',
        '',
        '[Install]',
        'WantedBy=multi-user.target',
        '',
      ].join('\n'),
    );
  });

  it('runs postgres and redis in the foreground, ready when they say so', () => {
    const pg = unit(files, 'stagecoach-shop_postgres@.service');
    expect(pg).to.include(
      [
        '[Service]',
        'Type=notify',
        'Environment=STAGECOACH_HOME=%f',
        'ExecStart=%f/state/resources/postgres/release/manage.sh exec-resource postgres',
        'WorkingDirectory=%f',
        'User=deploy',
        'UMask=0077',
        'Restart=on-failure',
        'RestartSec=1s',
        'KillMode=mixed',
        'KillSignal=SIGINT',
        'TimeoutStartSec=300s',
        'TimeoutStopSec=60s',
      ].join('\n'),
    );
    expect(pg).to.include('\nAfter=network.target\n');
    const redis = unit(files, 'stagecoach-shop_redis@.service');
    expect(redis).to.include(
      '\nExecStart=%f/state/resources/redis/release/manage.sh exec-resource redis\n',
    );
    expect(redis).to.include('\nKillMode=control-group\nTimeoutStopSec=10s\n');
    expect(redis).not.to.include('KillSignal');
  });

  it('holds no env value or secret (units are world-readable)', () => {
    const withSecret = manifestOf({ secrets: { API_KEY: { value: 'sealed-secret' } } });
    for (const text of systemdUnits(withSecret, scenario).values()) {
      expect(text).not.to.include('hunter2-value');
      expect(text).not.to.include('SECRET_TOKEN');
      expect(text).not.to.include('sealed-secret');
    }
  });

  it('names no user for a local target (only root installs those), the ssh user otherwise', () => {
    const local = systemdUnits(
      manifestOf({ target: { type: 'local', workdir: 'targets/test' } }),
      scenario,
    );
    for (const text of local.values()) {
      expect(text).not.to.match(/^User=/m);
    }
    const root = systemdUnits(manifestOf({ target: { ...sshTarget, user: 'root' } }), scenario);
    expect(unit(root, 'stagecoach-shop-api@.service')).to.include('\nUser=root\n');
  });

  it("adds the edge service's spare slot (<service>.b) when the manifest has an edge", () => {
    const edged = systemdUnits(
      manifestOf({ edge: { domain: 'shop.example.com', service: 'api' } }),
      scenario,
    );
    expect(unit(edged, 'stagecoach-shop-api.b@.service')).to.include(
      '\nExecStart=%f/state/run/api.b.release/manage.sh exec-service api.b\n',
    );
    expect(edged.has('stagecoach-shop-web.b@.service')).to.equal(false);
  });

  it('ships the units in the bundle as config/systemd/… (0644)', () => {
    const config = renderConfig(manifestOf(), scenario);
    const file = config.get('config/systemd/stagecoach-shop-web@.service');
    expect(file?.mode).to.equal(0o644);
    expect(file?.content.toString('utf8')).to.equal(unit(files, 'stagecoach-shop-web@.service'));
    expect(
      config.has('config/systemd/stagecoach-shop-web@.service.d/restart-backoff.conf'),
    ).to.equal(true);
  });
});

describe('systemd unit names', () => {
  const hostile = ['web\nExecStartPre=/bin/sh -c evil', 'web%n', 'Web', 'a_b', '../x', ''];

  it('keeps resources and services apart, whatever a service is called', () => {
    expect(serviceUnitName('shop', 'postgres')).to.equal('stagecoach-shop-postgres@.service');
    expect(resourceUnitName('shop', 'postgres')).to.equal('stagecoach-shop_postgres@.service');
    expect(serviceUnitName('shop', 'web.b')).to.equal('stagecoach-shop-web.b@.service');
  });

  it('the scenario schema refuses names that could add a line or a specifier', () => {
    for (const name of hostile) {
      expect(scenarioSchema.safeParse(buildScenario({ name })).success, name).to.equal(false);
      const services = [{ name, start: 'x', port: 'web' }];
      expect(scenarioSchema.safeParse(buildScenario({ services })).success, name).to.equal(false);
    }
    const twoLines = buildScenario({ services: [{ name: 'web', start: 'a\nb', port: 'web' }] });
    expect(scenarioSchema.safeParse(twoLines).success).to.equal(false);
  });

  it('refuses them again when rendering (a scenario that skipped the schema)', () => {
    for (const name of hostile) {
      const bad = { ...scenario, services: [{ ...scenario.services[0], name }] } as Scenario;
      expect(() => systemdUnits(manifestOf(), bad), name).to.throw(/invalid name/);
      expect(() => systemdUnits(manifestOf(), { ...scenario, name }), name).to.throw(
        /invalid name/,
      );
    }
    const badUser = manifestOf();
    (badUser.target as { user: string }).user = 'deploy\nUser=root';
    expect(() => systemdUnits(badUser, scenario)).to.throw(/invalid target user/);
  });
});

describe('systemd-analyze verify on the generated units', function () {
  let dir: string | undefined;

  before(function () {
    requireTools(this, [
      [onPath('systemd-analyze'), 'systemd-analyze', 'systemd'],
      [onPath('systemd-escape'), 'systemd-escape', 'systemd'],
    ]);
  });

  after(async () => {
    if (dir) {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('accepts every unit instantiated for a workdir whose release links exist', async function () {
    dir = await makeTempDir('stagecoach-systemd-');
    const workdir = path.join(dir, 'work');
    const release = path.join(workdir, 'releases', 'r1');
    await mkdir(release, { recursive: true });
    await writeFile(path.join(release, 'manage.sh'), '#!/bin/sh\nexit 0\n');
    await chmod(path.join(release, 'manage.sh'), 0o755);
    await mkdir(path.join(workdir, 'state', 'run'), { recursive: true });
    for (const record of ['web', 'api']) {
      await symlink(release, path.join(workdir, 'state', 'run', `${record}.release`));
    }
    for (const kind of ['postgres', 'redis']) {
      await mkdir(path.join(workdir, 'state', 'resources', kind), { recursive: true });
      await symlink(release, path.join(workdir, 'state', 'resources', kind, 'release'));
    }
    const instance = execFileSync('systemd-escape', ['--path', workdir], { encoding: 'utf8' });
    const unitsDir = path.join(dir, 'units');
    await mkdir(unitsDir);
    // the local target's units (no User=: verify would look the user up)
    const files = systemdUnits(
      manifestOf({ target: { type: 'local', workdir: 'targets/test' } }),
      scenario,
    );
    const paths: string[] = [];
    for (const [name, text] of files) {
      if (name.includes('.d/')) {
        continue; // the backoff drop-in: systemd 252 (Debian 12) does not know its keys
      }
      const p = path.join(unitsDir, name.replace('@.service', `@${instance.trim()}.service`));
      await writeFile(p, text);
      paths.push(p);
    }
    const r = await run('systemd-analyze', ['verify', '--man=no', ...paths]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr, 'no warnings').to.equal('');
    // and it does look: without the release link, the api unit has no ExecStart binary
    await rm(path.join(workdir, 'state', 'run', 'api.release'));
    const broken = await run('systemd-analyze', ['verify', '--man=no', ...paths]);
    expect(broken.code).not.to.equal(0);
    expect(broken.stderr).to.include('api.release/manage.sh');
  });
});
