import { expect } from 'chai';
import {
  canTransition,
  isStatus,
  STATUSES,
  TRANSITIONS,
  type Status,
} from '../../shared/status.js';

/** The documented state machine, written out edge by edge (sorted for comparison). */
const DOCUMENTED: Record<Status, Status[]> = {
  pending: ['failed', 'setup_running'],
  setup_running: ['failed', 'setup_complete'],
  setup_complete: ['deploying', 'failed'],
  deploying: ['deployed', 'failed'],
  deployed: ['deploying', 'pending', 'setup_running', 'stopped'],
  stopped: ['deploying', 'pending', 'setup_running'],
  failed: ['deploying', 'pending', 'setup_running', 'stopped'],
};

const EDGES = Object.entries(DOCUMENTED).flatMap(([from, tos]) =>
  tos.map((to) => [from, to] as [Status, Status]),
);

describe('shared/status', () => {
  it('lists exactly the seven statuses, in lifecycle order', () => {
    expect([...STATUSES]).to.deep.equal([
      'pending',
      'setup_running',
      'setup_complete',
      'deploying',
      'deployed',
      'stopped',
      'failed',
    ]);
  });

  it('has a transition table equal to the documented one', () => {
    expect(Object.keys(TRANSITIONS).sort()).to.deep.equal([...STATUSES].sort());
    for (const status of STATUSES) {
      expect([...TRANSITIONS[status]].sort(), `edges out of ${status}`).to.deep.equal(
        DOCUMENTED[status],
      );
    }
    expect(EDGES).to.have.length(19);
  });

  it('has no duplicate edges and no self-loops', () => {
    for (const status of STATUSES) {
      expect(new Set(TRANSITIONS[status]).size, status).to.equal(TRANSITIONS[status].length);
      expect(TRANSITIONS[status], status).not.to.include(status);
    }
  });

  describe('canTransition', () => {
    for (const [from, to] of EDGES) {
      it(`allows ${from} → ${to}`, () => {
        expect(canTransition(from, to)).to.equal(true);
      });
    }

    const forbidden: [Status, Status][] = [
      ['pending', 'deployed'],
      ['pending', 'deploying'],
      ['pending', 'setup_complete'],
      ['pending', 'stopped'],
      ['setup_running', 'deploying'],
      ['setup_running', 'deployed'],
      ['setup_complete', 'deployed'],
      ['setup_complete', 'stopped'],
      ['deploying', 'stopped'],
      ['deploying', 'pending'],
      ['deployed', 'failed'],
      ['deployed', 'setup_complete'],
      ['stopped', 'failed'],
      ['stopped', 'deployed'],
      ['failed', 'deployed'],
      ['failed', 'setup_complete'],
    ];
    for (const [from, to] of forbidden) {
      it(`forbids ${from} → ${to}`, () => {
        expect(canTransition(from, to)).to.equal(false);
      });
    }

    it('forbids every self-transition and every pair not in the table', () => {
      let allowed = 0;
      for (const from of STATUSES) {
        for (const to of STATUSES) {
          const expected = DOCUMENTED[from].includes(to);
          expect(canTransition(from, to), `${from} → ${to}`).to.equal(expected);
          allowed += expected ? 1 : 0;
        }
      }
      expect(allowed).to.equal(19);
    });
  });

  describe('isStatus', () => {
    it('accepts every status', () => {
      for (const s of STATUSES) {
        expect(isStatus(s), s).to.equal(true);
      }
    });

    for (const value of [
      '',
      'PENDING',
      'Pending',
      ' pending',
      'pending ',
      'running',
      'deleted',
      'setup-running',
      'toString',
      'constructor',
    ]) {
      it(`rejects ${JSON.stringify(value)}`, () => {
        expect(isStatus(value)).to.equal(false);
      });
    }
  });
});
