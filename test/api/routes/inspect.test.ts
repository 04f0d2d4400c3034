/** jobOutcome: the inspect route's verdict on one job snapshot, without a queue. */
import type { Job } from 'bullmq';
import { expect } from 'chai';
import { jobOutcome } from '../../../api/routes/inspect.js';

/** A job snapshot with only the fields jobOutcome reads. */
const snapshot = (fields: Partial<Pick<Job, 'finishedOn' | 'returnvalue' | 'failedReason'>>) =>
  ({ returnvalue: null, ...fields }) as Job;

describe('api/routes/inspect: jobOutcome', () => {
  it('is pending for a missing job or one that has not finished', () => {
    expect(jobOutcome(undefined)).to.deep.equal({ state: 'pending' });
    expect(jobOutcome(snapshot({}))).to.deep.equal({ state: 'pending' });
  });

  it('is pending after a failed attempt that will be retried (no finishedOn yet)', () => {
    expect(jobOutcome(snapshot({ failedReason: 'ssh timeout' }))).to.deep.equal({
      state: 'pending',
    });
  });

  it('is completed with the return value from the same snapshot', () => {
    const result = { ok: false, error: 'nothing is deployed' };
    expect(jobOutcome(snapshot({ finishedOn: 1, returnvalue: result }))).to.deep.equal({
      state: 'completed',
      result,
    });
  });

  it('prefers the return value over a failedReason left by an earlier attempt', () => {
    const outcome = jobOutcome(
      snapshot({ finishedOn: 1, returnvalue: { ok: true }, failedReason: 'x' }),
    );
    expect(outcome).to.deep.equal({ state: 'completed', result: { ok: true } });
  });

  it('is failed with the reason when the final attempt failed', () => {
    expect(
      jobOutcome(snapshot({ finishedOn: 1, failedReason: 'target unreachable' })),
    ).to.deep.equal({ state: 'failed', reason: 'target unreachable' });
  });

  it('is completed with null when the processor returned nothing', () => {
    expect(jobOutcome(snapshot({ finishedOn: 1 }))).to.deep.equal({
      state: 'completed',
      result: null,
    });
  });
});
