/**
 * The unchanged-release decision: a deploy of exactly the release that already serves, with its
 * services up under supervision, does not restart it. The deploy stage then only checks it
 * (health, and the edge) and skips start and promote; anything off means the full start →
 * health → promote. `force_rebuild` is how a user restarts an unchanged release on purpose.
 */
import type { DeploymentRow } from '../../shared/repositories/deployments.js';
import type { InstanceFact, ReleaseFacts } from './release-facts.js';

/** Instance states under which the release may be left running (InstanceFact.state). */
const LIVE = new Set(['up', 'unit']);

/** Why `sha256` must be (re)started, or null when it is a candidate to be left as it runs. */
export type Verdict = { unchanged: true } | { unchanged: false; reason: string };

/**
 * What can be decided before asking the target for its instances: only the deployment's own
 * current release, deployed by an execute, re-deploy or retry without force_rebuild, may be left.
 */
export function mayBeUnchanged(d: DeploymentRow, sha256: string, adopt: boolean): Verdict {
  if (adopt) {
    return { unchanged: false, reason: 'a rollback puts another release in place' };
  }
  if (d.run_options?.force_rebuild === true) {
    return { unchanged: false, reason: 'force_rebuild asks for a restart' };
  }
  if (d.current_release !== sha256) {
    return {
      unchanged: false,
      reason: d.current_release
        ? `release ${short(sha256)} replaces ${short(d.current_release)}`
        : `release ${short(sha256)} is the deployment's first`,
    };
  }
  return { unchanged: true };
}

/** The decision from the target's facts (read with instances when mayBeUnchanged said so). */
export function unchangedVerdict(
  d: DeploymentRow,
  sha256: string,
  adopt: boolean,
  facts: ReleaseFacts,
): Verdict {
  const first = mayBeUnchanged(d, sha256, adopt);
  if (!first.unchanged) {
    return first;
  }
  if (facts.serving !== sha256) {
    return {
      unchanged: false,
      reason: facts.serving
        ? `the target serves release ${short(facts.serving)}`
        : 'no release serves on the target',
    };
  }
  if (facts.instances.length === 0) {
    return { unchanged: false, reason: 'the target reported no services of the release' };
  }
  const off = facts.instances.find((i) => !LIVE.has(i.state));
  return off
    ? { unchanged: false, reason: `service ${off.name} (${off.record}) is ${describe(off)}` }
    : { unchanged: true };
}

/** The first 12 hex digits of a sha256, as people quote releases. */
export const short = (sha256: string): string => sha256.slice(0, 12);

function describe(i: InstanceFact): string {
  switch (i.state) {
    case 'pending':
      return 'pending (a start was not promoted)';
    case 'other':
      return 'running another release';
    case 'restarted':
      return 'restarted by its supervisor (it exited)';
    case 'backoff':
      return 'waiting to be restarted (it exited)';
    case 'unsupervised':
      return 'running without supervision state';
    default:
      return i.state;
  }
}
