/** Builds the StageContext of a worker process. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Knex } from 'knex';
import type { Config } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';
import type { Manifest } from '../shared/manifest.js';
import type { DeploymentRow } from '../shared/repositories/deployments.js';
import { recordHostKey } from '../shared/repositories/host-keys.js';
import type { Runtime } from '../shared/runtime.js';
import { openTransport } from '../shared/targets.js';
import type { Transport } from '../shared/transports/types.js';
import type { StageContext } from './context.js';
import { reuseKey, TransportReuse } from './transport-reuse.js';

/** The project's target-side scripts, shipped in every bundle. */
export const SCRIPTS_DIR = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'scripts',
  'target',
);

/**
 * Host keys are verified always: the manifest's `host_key`, else the one trusted on first use
 * (recorded on the deployment the first time; any other key afterwards is refused).
 */
async function openVerified(db: Knex, config: Config, d: DeploymentRow): Promise<Transport> {
  const manifest = d.manifest as unknown as Manifest;
  if (manifest.target.type !== 'ssh') {
    return openTransport(manifest, config);
  }
  const pinned = manifest.target.host_key ?? d.ssh_host_key ?? undefined;
  const t = await openTransport(manifest, config, pinned);
  const seen = (t as Transport & { hostKey?: string }).hostKey;
  if (!pinned && seen) {
    await recordHostKey(db, d.id, seen);
  }
  return t;
}

/** The context every stage of this process receives. */
export function createStageContext(
  rt: Pick<Runtime, 'db' | 'queues' | 'relay'> & Partial<Pick<Runtime, 'secrets'>>,
  config: Config,
  logger: Logger,
): StageContext {
  const reuse = new TransportReuse(config.SSH_REUSE_SECONDS * 1000);
  return {
    db: rt.db,
    queues: rt.queues,
    config,
    logger,
    scriptsDir: SCRIPTS_DIR,
    relay: rt.relay,
    secrets: rt.secrets ?? null,
    openTransport: async (d, note) => {
      const parked = reuse.take(reuseKey(d));
      if (parked) {
        note?.(`reused this run's connection to ${parked.describe} from its setup stage`);
        return parked;
      }
      return openVerified(rt.db, config, d);
    },
    releaseTransport: (d, t, reusable) => reuse.release(reusable ? reuseKey(d) : null, t),
    closeTransports: () => reuse.closeAll(),
  };
}
