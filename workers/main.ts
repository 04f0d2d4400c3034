/** Worker process: consumes WORKER_QUEUES with WORKER_CONCURRENCY jobs each. */
import { loadConfig } from '../shared/config.js';
import { createProcessLogger } from '../shared/logger.js';
import { boot } from '../shared/runtime.js';
import { onShutdown } from '../shared/shutdown.js';
import { createStageContext } from './create-context.js';
import { startWorkers } from './start.js';

const config = loadConfig();
const logger = createProcessLogger(config);
const rt = await boot(config, logger, { migrate: !config.DATABASE_URL });
const workers = startWorkers(createStageContext(rt, config, logger), config.WORKER_QUEUES, {
  concurrency: config.WORKER_CONCURRENCY,
});
logger.info(
  { queues: config.WORKER_QUEUES, concurrency: config.WORKER_CONCURRENCY },
  'workers started',
);
onShutdown(logger, [
  ['workers', () => workers.close()],
  ['runtime', () => rt.close()],
]);
