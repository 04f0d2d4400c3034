/** API process: HTTP only (workers run elsewhere). */
import { loadConfig } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { boot } from '../shared/runtime.js';
import { onShutdown } from '../shared/shutdown.js';
import { closeServer, listenApi } from './listen.js';

const config = loadConfig();
const logger = createLogger(config.LOG_LEVEL);
const rt = await boot(config, logger, { migrate: !config.DATABASE_URL });
const server = await listenApi(rt, config, logger);
logger.info({ port: config.PORT }, 'API listening');
onShutdown(logger, [
  ['http', () => closeServer(server)],
  ['runtime', () => rt.close()],
]);
