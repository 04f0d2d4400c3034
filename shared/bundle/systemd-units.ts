/**
 * systemd unit files for a deployment's services and resources, rendered from the manifest and
 * scenario (no I/O) and shipped as `config/systemd/…` (docs/target-layout.md, "systemd mode").
 *
 * Every unit is a template instanced by the target's workdir (`systemd-escape --path <workdir>`),
 * so the bundle names no target path: `%f` is the workdir, `%i` the escaped instance. A service
 * unit runs one record (lib/slots.sh: `<service>`, and `<service>.b` for the edge's service) as
 * `%f/state/run/<record>.release/manage.sh exec-service <record>`; a resource unit runs
 * `%f/state/resources/<kind>/release/manage.sh exec-resource <kind>`. Those symlinks name the
 * release that launched them (lib/systemd.sh), so no unit changes between releases. The process
 * runs in the foreground as the non-systemd path runs it; the app env and secrets are read there
 * as data and never written into a unit (units are world-readable in /etc/systemd/system).
 */
import { edgePlan } from '../edge.js';
import type { Manifest } from '../manifest.js';
import type { ResourceKind, Scenario } from '../scenario.js';

/** The bundle folder (under `config/`) holding the units and their drop-in dirs. */
export const SYSTEMD_DIR = 'systemd';
/** How long a stopping service gets before SIGKILL: manage.sh's STOP_GRACE_S. */
export const STOP_GRACE_S = 10;
/** Crashes tolerated within START_LIMIT_INTERVAL_S before systemd leaves the unit down. */
export const START_LIMIT_BURST = 5;
export const START_LIMIT_INTERVAL_S = 300;
/** The drop-in with the exponential restart backoff, installed on systemd ≥ 254 only. */
export const BACKOFF_DROP_IN = 'restart-backoff.conf';

const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const USER = /^[a-z_][a-z0-9_.-]{0,31}$/i;

/**
 * The template unit of a service's record: `<service>`, or `<service>.b` for its spare slot.
 * `_` occurs in no name, so it never clashes with a resource's unit.
 */
export function serviceUnitName(scenario: string, record: string): string {
  const [service, slot] = record.endsWith('.b') ? [record.slice(0, -2), '.b'] : [record, ''];
  return `stagecoach-${checkedName(scenario)}-${checkedName(service)}${slot}@.service`;
}

/**
 * The records that get a unit: every service, and `<service>.b` for the edge's service (its
 * zero-downtime slot; an unused template costs nothing).
 */
export function unitRecords(manifest: Manifest, scenario: Scenario): string[] {
  const records = scenario.services.map((s) => s.name);
  const edge = edgePlan(manifest, scenario.services[0]?.name ?? '');
  if (edge && records.includes(edge.service)) {
    records.push(`${edge.service}.b`);
  }
  return records;
}

/** The template unit of resource `kind`. */
export function resourceUnitName(scenario: string, kind: ResourceKind): string {
  return `stagecoach-${checkedName(scenario)}_${checkedName(kind)}@.service`;
}

/**
 * The user the units run as: the ssh target's login user (root included, so systemd sets HOME,
 * USER, LOGNAME and SHELL as sshd does), or null for a local target, whose user only the target
 * knows; there systemd runs the unit as root and lib/systemd.sh installs it only for root.
 */
export function unitUser(manifest: Manifest): string | null {
  if (manifest.target.type !== 'ssh') {
    return null;
  }
  const user = manifest.target.user;
  if (!USER.test(user)) {
    throw new Error(`invalid target user for a systemd unit: ${JSON.stringify(user)}`);
  }
  return user;
}

/**
 * The unit files, keyed by path below `config/systemd/`: one template per service and resource,
 * plus `<unit>.d/restart-backoff.conf` for each (RestartSteps and RestartMaxDelaySec, which
 * systemd < 254, Debian 12's 252 among them, would log as unknown keys at every daemon-reload).
 */
export function systemdUnits(manifest: Manifest, scenario: Scenario): Map<string, string> {
  const user = unitUser(manifest);
  const files = new Map<string, string>();
  const resourceUnits = scenario.resources.map((kind) => resourceUnitName(scenario.name, kind));
  for (const kind of scenario.resources) {
    const name = resourceUnitName(scenario.name, kind);
    files.set(name, resourceUnit(scenario.name, kind, user));
    files.set(`${name}.d/${BACKOFF_DROP_IN}`, backoffDropIn());
  }
  for (const record of unitRecords(manifest, scenario)) {
    const name = serviceUnitName(scenario.name, record);
    files.set(name, serviceUnit(scenario.name, record, user, resourceUnits));
    files.set(`${name}.d/${BACKOFF_DROP_IN}`, backoffDropIn());
  }
  return files;
}

/** A record's unit: after the network and the resources, restarted on failure, enabled at boot. */
function serviceUnit(
  scenario: string,
  record: string,
  user: string | null,
  resourceUnits: string[],
): string {
  // `foo@.service` + `%i`: the resource instance of the same workdir
  const deps = resourceUnits.map((u) => u.replace('@.service', '@%i.service'));
  return render([
    header(scenario, `service ${record}`),
    '[Unit]',
    `Description=stagecoach ${scenario}: service ${record} (%f)`,
    `Wants=${['network-online.target', ...deps].join(' ')}`,
    `After=${['network-online.target', ...deps].join(' ')}`,
    ...startLimit(),
    '',
    '[Service]',
    'Type=exec',
    ...common(user, `state/run/${record}.release`, `exec-service ${record}`),
    'KillMode=control-group',
    `TimeoutStopSec=${STOP_GRACE_S}s`,
    ...install(),
  ]);
}

/**
 * A resource's unit: the server itself is the main process and says when it is ready
 * (Type=notify: Debian's postgres and redis-server are built with libsystemd), so services
 * ordered after it start once it accepts connections.
 */
function resourceUnit(scenario: string, kind: ResourceKind, user: string | null): string {
  // postgres: SIGINT is its fast shutdown, and it stops its own children (KillMode=mixed);
  // pg_ctl's -t 60 for starts and stops, more for the crash recovery a restart may need
  const postgres = kind === 'postgres';
  return render([
    header(scenario, `resource ${kind}`),
    '[Unit]',
    `Description=stagecoach ${scenario}: resource ${kind} (%f)`,
    'After=network.target',
    ...startLimit(),
    '',
    '[Service]',
    'Type=notify',
    ...common(user, `state/resources/${kind}/release`, `exec-resource ${kind}`),
    `KillMode=${postgres ? 'mixed' : 'control-group'}`,
    ...(postgres ? ['KillSignal=SIGINT', 'TimeoutStartSec=300s'] : []),
    `TimeoutStopSec=${postgres ? 60 : STOP_GRACE_S}s`,
    ...install(),
  ]);
}

function header(scenario: string, what: string): string {
  return [
    `# stagecoach: ${scenario}, ${what}. Generated; the next deploy overwrites it.`,
    '# Instance: the workdir, systemd-escape --path <workdir> (%f is the workdir).',
  ].join('\n');
}

function startLimit(): string[] {
  return [
    `StartLimitIntervalSec=${START_LIMIT_INTERVAL_S}`,
    `StartLimitBurst=${START_LIMIT_BURST}`,
  ];
}

/** The [Service] lines every unit shares: manage.sh of release link `link`, with `args`. */
function common(user: string | null, link: string, args: string): string[] {
  return [
    'Environment=STAGECOACH_HOME=%f',
    `ExecStart=%f/${link}/manage.sh ${args}`,
    'WorkingDirectory=%f',
    ...(user === null ? [] : [`User=${user}`]),
    // manage.sh runs everything under umask 077 too; this covers what systemd itself creates
    'UMask=0077',
    'Restart=on-failure',
    'RestartSec=1s',
  ];
}

function install(): string[] {
  return ['', '[Install]', 'WantedBy=multi-user.target'];
}

function backoffDropIn(): string {
  return render([
    '# stagecoach: restart backoff 1 s to 60 s in 5 steps; installed on systemd >= 254 only.',
    '[Service]',
    'RestartSteps=5',
    'RestartMaxDelaySec=60s',
  ]);
}

/** Joins lines; every interpolated value was checked (checkedName, USER): none holds a newline. */
function render(lines: string[]): string {
  return `${lines.join('\n')}\n`;
}

/** `name` when it is a scenario, service or resource name; throws otherwise (defence in depth). */
function checkedName(name: string): string {
  if (!NAME.test(name)) {
    throw new Error(`invalid name for a systemd unit: ${JSON.stringify(name)}`);
  }
  return name;
}
