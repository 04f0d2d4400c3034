/** The run actions (execute, retry, redeploy, rollback, stop) and cancel. */
import { Option, type Command } from 'commander';
import { context, deploymentPath, printJson } from '../context.js';
import { followRun } from '../follow-run.js';
import type { Started } from '../types.js';
import { out } from '../view.js';

interface ActionDef {
  name: string;
  description: string;
  /** The status a followed run ends in when it worked. */
  expect: string;
  /** Its options (made per command: commander keeps the objects it is given). */
  options?: () => Option[];
  /** The request body from the command's options. */
  body(opts: Record<string, unknown>): Record<string, unknown>;
}

const forceRebuild = () => [
  new Option('--force-rebuild', "rebuild the bundle from the scenario's current files"),
];
const rebuild = (o: Record<string, unknown>) => (o.forceRebuild ? { force_rebuild: true } : {});

const ACTIONS: ActionDef[] = [
  {
    name: 'execute',
    description: 'run the deployment again from the start (build, setup, deploy)',
    expect: 'deployed',
    options: forceRebuild,
    body: rebuild,
  },
  {
    name: 'retry',
    description: 'run a failed deployment again from where it stopped',
    expect: 'deployed',
    options: forceRebuild,
    body: rebuild,
  },
  {
    name: 'redeploy',
    description: 'deploy a deployed or stopped deployment again',
    expect: 'deployed',
    options: forceRebuild,
    body: rebuild,
  },
  {
    name: 'rollback',
    description: 'deploy the release that served before (or --sha256) again',
    expect: 'deployed',
    options: () => [
      new Option('--sha256 <sha256>', 'the release to deploy (see: stagecoach releases)'),
    ],
    body: (o) => (o.sha256 ? { sha256: o.sha256 } : {}),
  },
  {
    name: 'stop',
    description: "stop the deployment's services (and resources with --stop-resources)",
    expect: 'stopped',
    options: () => [
      new Option('--stop-resources', 'stop PostgreSQL/Redis too (their data is kept)'),
    ],
    body: (o) => (o.stopResources ? { stop_resources: true } : {}),
  },
];

/** Registers the actions. */
export function registerActions(program: Command): void {
  for (const def of ACTIONS) {
    const cmd = program
      .command(def.name)
      .description(def.description)
      .argument('<id>', 'deployment id')
      .option('-f, --follow', 'show progress and logs until the run ends');
    def.options?.().forEach((o) => cmd.addOption(o));
    cmd.action(async (id: string, opts: Record<string, unknown>, self: Command) => {
      const startedAt = Date.now();
      const { client, json } = context(self);
      const started = await client.json<Started>(
        'POST',
        deploymentPath(id, `/${def.name}`),
        def.body(opts),
      );
      printStarted(def.name, started, json, opts.follow === true);
      if (opts.follow) {
        process.exitCode = await followRun(client, started.deployment.id, {
          json,
          expect: def.expect,
          startedAt,
        });
      }
    });
  }

  program
    .command('cancel')
    .description('cancel the active run (it ends failed, code cancelled)')
    .argument('<id>', 'deployment id')
    .action(async (id: string, _opts: unknown, self: Command) => {
      const { client, json } = context(self);
      const started = await client.json<Started>('POST', deploymentPath(id, '/cancel'));
      printStarted('cancel', started, json, false);
    });
}

/** The action's answer: JSON (one line when events follow), or a sentence. */
function printStarted(name: string, s: Started, json: boolean, follow: boolean): void {
  if (json) {
    return follow ? out(JSON.stringify(s)) : printJson(s);
  }
  const d = s.deployment;
  const what = name === 'cancel' ? 'cancel requested' : `${name} started`;
  out(`${what}: deployment ${d.id} is ${d.status} (run ${s.run_id ?? d.run_id ?? '-'})`);
}
