/** The unchanged-release decision (workers/stages/unchanged.ts), from facts written by hand. */
import { expect } from 'chai';
import type { DeploymentRow } from '../../../shared/repositories/deployments.js';
import type { InstanceFact, ReleaseFacts } from '../../../workers/stages/release-facts.js';
import { mayBeUnchanged, unchangedVerdict } from '../../../workers/stages/unchanged.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

const deployment = (over: Partial<DeploymentRow> = {}): DeploymentRow =>
  ({ current_release: A, run_kind: 'redeploy', run_options: null, ...over }) as DeploymentRow;

const instance = (state: string, name = 'web'): InstanceFact => ({
  name,
  record: name,
  state,
  pid: 10,
  port: 3000,
});

const facts = (over: Partial<ReleaseFacts> = {}): ReleaseFacts => ({
  setUp: true,
  built: true,
  builds: false,
  hasResources: false,
  serving: A,
  releases: 1,
  instances: [instance('up'), instance('unit', 'api')],
  ...over,
});

describe('workers/stages/unchanged.ts', () => {
  it('leaves the current, serving release whose instances are up (or systemd units)', () => {
    expect(unchangedVerdict(deployment(), A, false, facts())).to.deep.equal({ unchanged: true });
  });

  const restarts: [string, () => ReturnType<typeof unchangedVerdict>, RegExp][] = [
    ['a rollback', () => unchangedVerdict(deployment(), A, true, facts()), /rollback/],
    [
      'force_rebuild',
      () =>
        unchangedVerdict(deployment({ run_options: { force_rebuild: true } }), A, false, facts()),
      /force_rebuild/,
    ],
    ['another release', () => unchangedVerdict(deployment(), B, false, facts()), /replaces aaaa/],
    [
      'a first release',
      () => unchangedVerdict(deployment({ current_release: null }), A, false, facts()),
      /first/,
    ],
    [
      'another release serving on the target',
      () => unchangedVerdict(deployment(), A, false, facts({ serving: B })),
      /serves release bbbbbbbbbbbb$/,
    ],
    [
      'nothing serving',
      () => unchangedVerdict(deployment(), A, false, facts({ serving: null })),
      /no release serves/,
    ],
    [
      'no instances reported',
      () => unchangedVerdict(deployment(), A, false, facts({ instances: [] })),
      /no services/,
    ],
  ];
  for (const state of ['stopped', 'gone', 'pending', 'other', 'restarted', 'backoff', 'down']) {
    restarts.push([
      `an instance ${state}`,
      () =>
        unchangedVerdict(
          deployment(),
          A,
          false,
          facts({ instances: [instance('up', 'api'), instance(state)] }),
        ),
      /^service web \(web\) is /,
    ]);
  }
  for (const [what, verdict, reason] of restarts) {
    it(`restarts for ${what}`, () => {
      const v = verdict();
      expect(v.unchanged).to.equal(false);
      expect(v.unchanged ? '' : v.reason).to.match(reason);
    });
  }

  it('asks the target for instances only when the release may be left', () => {
    expect(mayBeUnchanged(deployment(), A, false).unchanged).to.equal(true);
    expect(mayBeUnchanged(deployment(), B, false).unchanged).to.equal(false);
    expect(
      mayBeUnchanged(deployment({ run_options: { force_rebuild: true } }), A, false),
    ).to.include({ unchanged: false });
  });
});
