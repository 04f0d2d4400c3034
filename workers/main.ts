/** Worker process: consumes WORKER_QUEUES with WORKER_CONCURRENCY jobs each. */
import { loadConfig } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { boot } from '../shared/runtime.js';
import { onShutdown } from '../shared/shutdown.js';
import { createStageContext } from './create-context.js';
import { startWorkers } from './start.js';

const config = loadConfig();
const logger = createLogger(config.LOG_LEVEL);
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
