/** Stop: stops the services (and, when asked, the resources) of the current release. */
import type { Transport } from '../../shared/transports/types.js';
import type { StageRecorder } from '../recorder.js';
import { manage } from '../remote.js';

/** Stops what runs on the target; a target with nothing deployed has nothing to stop. */
export async function runStop(
  t: Transport,
  rec: StageRecorder,
  stopResources: boolean,
): Promise<Record<string, unknown>> {
  const hasCurrent = (await t.exec(['test', '-x', 'current/manage.sh'])).code === 0;
  if (!hasCurrent) {
    rec.skipped('stop', 'Stop services', 'nothing is deployed on the target');
    return { stopped: [] };
  }
  const args = stopResources ? ['--resources'] : [];
  return rec.step('stop', stopResources ? 'Stop services and resources' : 'Stop services', (h) =>
    manage(t, 'current', 'stop', args, {
      step: 'stop',
      code: 'stop_failed',
      handle: h,
      home: t.workdir,
    }),
  );
}
