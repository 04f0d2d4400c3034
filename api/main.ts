/** API process: HTTP only (workers run elsewhere). */
import { once } from 'node:events';
import { loadConfig } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { boot } from '../shared/runtime.js';
import { onShutdown } from '../shared/shutdown.js';
import { createApp } from './app.js';

const config = loadConfig();
const logger = createLogger(config.LOG_LEVEL);
const rt = await boot(config, logger, { migrate: !config.DATABASE_URL });
const server = createApp({
  db: rt.db,
  queues: rt.queues,
  relay: rt.relay,
  secrets: rt.secrets,
  config,
  logger,
}).listen(config.PORT, config.HOST);
await once(server, 'listening');
logger.info({ port: config.PORT }, 'API listening');
onShutdown(logger, [
  ['http', () => new Promise<void>((r) => server.close(() => r()))],
  ['runtime', () => rt.close()],
]);
