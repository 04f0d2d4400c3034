/** `npm run migrate`: applies pending migrations (Procfile `release:`). */
import { loadConfig } from '../shared/config.js';
import { createProcessLogger } from '../shared/logger.js';
import { boot } from '../shared/runtime.js';

const config = loadConfig();
const logger = createProcessLogger(config);
const rt = await boot(config, logger, { migrate: true });
await rt.close();
