/** Checks that a history is made only of edges of the transition table. */
import { expect } from 'chai';
import { canTransition, type Status } from '../../shared/status.js';

/** Every event's from→to is an allowed edge (the first is creation: null → pending). */
export function expectValidHistory(
  events: { from_status: Status | null; to_status: Status }[],
): void {
  expect(events[0]).to.include({ from_status: null, to_status: 'pending' });
  for (const e of events.slice(1)) {
    expect(
      canTransition(e.from_status as Status, e.to_status),
      `${e.from_status} → ${e.to_status}`,
    ).to.equal(true);
  }
}
