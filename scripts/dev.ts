/** `npm run dev`: everything in one process (embedded services when needed, API, all workers). */
import { closeServer, listenApi } from '../api/listen.js';
import { loadConfig } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { boot } from '../shared/runtime.js';
import { onShutdown } from '../shared/shutdown.js';
import { createStageContext } from '../workers/create-context.js';
import { startWorkers } from '../workers/start.js';

const config = loadConfig();
const logger = createLogger(config.LOG_LEVEL);
// the dev server keeps a key file for secrets in the data dir when none is configured
const rt = await boot(config, logger, { migrate: true, createKeyFile: true });
const workers = startWorkers(createStageContext(rt, config, logger), config.WORKER_QUEUES, {
  concurrency: config.WORKER_CONCURRENCY,
});
const server = await listenApi(rt, config, logger);
logger.info(
  { url: `http://${config.HOST}:${config.PORT}`, board: '/admin/queues' },
  'stagecoach is up',
);
onShutdown(logger, [
  ['http', () => closeServer(server)],
  ['workers', () => workers.close()],
  ['runtime', () => rt.close()],
]);
