/** Knex CLI configuration (the app itself migrates through shared/db.ts; needs DATABASE_URL). */
import { loadConfig } from './shared/config.js';
import { migrationConfig } from './shared/db.js';

export default {
  client: 'pg',
  connection: loadConfig().DATABASE_URL,
  migrations: migrationConfig(),
};
