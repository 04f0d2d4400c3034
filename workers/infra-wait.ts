/** Waiting out an outage of stagecoach's own database or queue instead of failing a run. */
import { setTimeout as sleep } from 'node:timers/promises';
import { isInfraError } from '../shared/infra.js';
import type { StageContext } from './context.js';

const RETRY_MS = 1000;
/** After this long the outage is no longer "passing": the error goes up. */
const GIVE_UP_MS = 15 * 60_000;

/** Runs `fn`, retrying every second while the error is an outage (up to 15 minutes). */
export async function untilInfraBack<T>(ctx: StageContext, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  let told = false;
  for (;;) {
    try {
      const value = await fn();
      if (told) {
        ctx.logger.info('stagecoach database reachable again; resuming');
      }
      return value;
    } catch (err) {
      if (!isInfraError(err) || Date.now() - started > GIVE_UP_MS) {
        throw err;
      }
      if (!told) {
        ctx.logger.warn(
          { err: (err as Error).message },
          'stagecoach database unavailable; waiting',
        );
        told = true;
      }
      await sleep(RETRY_MS);
    }
  }
}
