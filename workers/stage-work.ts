/** The work of each stage, run under its lease: the host slot, the connection, the steps. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Manifest } from '../shared/manifest.js';
import type { DeploymentRow } from '../shared/repositories/deployments.js';
import { tryTakeSlot } from '../shared/repositories/host-slots.js';
import { MUTATING_STAGES, type Stage } from '../shared/runs.js';
import { targetHost } from '../shared/targets.js';
import type { Transport } from '../shared/transports/types.js';
import { withSignal } from './abortable-transport.js';
import type { StageContext } from './context.js';
import type { StageLease } from './lease.js';
import type { StageRecorder } from './recorder.js';
import { runBuild } from './stages/build.js';
import { runDeploy } from './stages/deploy.js';
import { deliverSecrets, openSecrets } from './stages/secrets.js';
import { runSetup } from './stages/setup.js';
import { runStop } from './stages/stop.js';

const SLOT_POLL_MS = 250;

/** `ssh_connect` for SSH targets, `connect` for local ones. */
function connectStepId(d: DeploymentRow): string {
  return (d.manifest.target as { type: string }).type === 'ssh' ? 'ssh_connect' : 'connect';
}

/** Waits (visibly, as `waiting_for_host`) for one of the target host's HOST_CONCURRENCY slots. */
async function takeHostSlot(
  ctx: StageContext,
  d: DeploymentRow,
  lease: StageLease,
  rec: StageRecorder,
) {
  const host = targetHost(d.manifest as unknown as Manifest);
  const leaseMs = ctx.config.RUN_LEASE_SECONDS * 1000;
  let shown = false;
  while (!(await tryTakeSlot(ctx.db, host, ctx.config.HOST_CONCURRENCY, lease.token, leaseMs))) {
    if (!shown) {
      rec.currentStep = 'waiting_for_host';
      await rec.progress('waiting_for_host');
      shown = true;
    }
    lease.check();
    await sleep(SLOT_POLL_MS);
  }
  lease.check();
}

/** Runs the stage's steps; every command on the target dies with the stage's signal. */
export async function doWork(
  stage: Stage,
  ctx: StageContext,
  d: DeploymentRow,
  rec: StageRecorder,
  lease: StageLease,
): Promise<Record<string, unknown>> {
  if (stage === 'build') {
    const forceRebuild = d.run_options?.force_rebuild === true;
    return runBuild(ctx, d, rec, { leaseToken: lease.token, forceRebuild });
  }
  if (MUTATING_STAGES.includes(stage)) {
    await takeHostSlot(ctx, d, lease, rec);
  }
  let opened: Transport | undefined;
  let handOn = false;
  try {
    opened = await rec.step(connectStepId(d), 'Connect to the target', (h) =>
      ctx.openTransport(d, (line) => h.output('stdout', `${line}\n`)),
    );
    const t = withSignal(opened, lease.signal, lease.token);
    if (stage === 'setup') {
      const result = await runSetup(ctx, d, t, rec);
      // a setup that ended well hands its connection on to the run's deploy stage
      handOn = !lease.signal.aborted;
      return result;
    }
    if (stage === 'deploy') {
      const secrets = openSecrets(ctx, d);
      rec.addSecrets(Object.values(secrets));
      await deliverSecrets(ctx, t, secrets, rec);
      return await runDeploy(ctx, d, t, rec, lease);
    }
    return await runStop(t, rec, d.run_options?.stop_resources === true);
  } finally {
    if (opened) {
      await ctx.releaseTransport(d, opened, handOn);
    }
  }
}
