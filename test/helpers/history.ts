/** Checks that a history is made only of edges of the transition table. */
import { expect } from 'chai';
import { canTransition, type Status } from '../../shared/status.js';

interface HistoryEvent {
  kind?: string;
  from_status: Status | null;
  to_status: Status;
}

/**
 * Every status event's from→to is an allowed edge (the first is creation: null → pending);
 * every other event (run and stage starts and ends) keeps the status: from = to.
 */
export function expectValidHistory(events: HistoryEvent[]): void {
  expect(events[0]).to.include({ from_status: null, to_status: 'pending' });
  for (const e of events.slice(1)) {
    if (e.kind !== undefined && e.kind !== 'status') {
      expect(e.from_status, `${e.kind} keeps the status`).to.equal(e.to_status);
      continue;
    }
    expect(
      canTransition(e.from_status as Status, e.to_status),
      `${e.from_status} → ${e.to_status}`,
    ).to.equal(true);
  }
}
