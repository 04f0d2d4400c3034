/** API process: HTTP only (workers run elsewhere). */
import { loadConfig } from '../shared/config.js';
import { createProcessLogger } from '../shared/logger.js';
import { boot } from '../shared/runtime.js';
import { onShutdown } from '../shared/shutdown.js';
import { closeServer, listenApi, logStartup } from './listen.js';

const config = loadConfig();
const logger = createProcessLogger(config);
const rt = await boot(config, logger, { migrate: !config.DATABASE_URL });
const server = await listenApi(rt, config, logger);
logStartup(logger, server, 'API listening');
onShutdown(logger, [
  ['http', () => closeServer(server)],
  ['runtime', () => rt.close()],
]);
