/** `npm run dev`: everything in one process (embedded services when needed, API, all workers). */
import { closeServer, listenApi, logStartup } from '../api/listen.js';
import { loadConfig } from '../shared/config.js';
import { createProcessLogger } from '../shared/logger.js';
import { boot } from '../shared/runtime.js';
import { onShutdown } from '../shared/shutdown.js';
import { createStageContext } from '../workers/create-context.js';
import { startWorkers } from '../workers/start.js';

const config = loadConfig();
const logger = createProcessLogger(config);
// the dev server keeps a key file for secrets in the data dir when none is configured
const rt = await boot(config, logger, { migrate: true, createKeyFile: true });
const workers = startWorkers(createStageContext(rt, config, logger), config.WORKER_QUEUES, {
  concurrency: config.WORKER_CONCURRENCY,
});
const server = await listenApi(rt, config, logger);
logStartup(logger, server, 'stagecoach is up');
onShutdown(logger, [
  ['http', () => closeServer(server)],
  ['workers', () => workers.close()],
  ['runtime', () => rt.close()],
]);
