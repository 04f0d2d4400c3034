/** Builds the StageContext of a worker process. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';
import type { Runtime } from '../shared/runtime.js';
import { openTransport } from '../shared/targets.js';
import type { StageContext } from './context.js';

/** The project's target-side scripts, shipped in every bundle. */
export const SCRIPTS_DIR = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'scripts',
  'target',
);

/** The context every stage of this process receives. */
export function createStageContext(
  rt: Pick<Runtime, 'db' | 'queues'>,
  config: Config,
  logger: Logger,
): StageContext {
  return {
    db: rt.db,
    queues: rt.queues,
    config,
    logger,
    scriptsDir: SCRIPTS_DIR,
    openTransport: (manifest) => openTransport(manifest, config),
  };
}
