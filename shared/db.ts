/** Knex connections and migrations. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import knexFactory, { type Knex } from 'knex';

export type Db = Knex | Knex.Transaction;

/** How long opening a connection, or waiting for a free one in the pool, may take. */
const CONNECT_TIMEOUT_MS = 5000;
const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'migrations');

/** Opens a pool to `url`; with `schema`, every connection uses it as search_path. */
export function createDb(url: string, schema?: string): Knex {
  return knexFactory({
    client: 'pg',
    // Fail fast when the server is down or hung: bound connecting and waiting for a pooled
    // connection, never the query itself (migrations and reports may legitimately run long).
    connection: {
      connectionString: url,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      // lets the OS notice a peer that vanished without closing (host gone, network cut)
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    },
    acquireConnectionTimeout: CONNECT_TIMEOUT_MS,
    searchPath: schema ? [schema] : undefined,
    pool: { min: 0, max: 10 },
  });
}

/** The migration settings shared by `npm run migrate`, start-up and tests. */
export function migrationConfig(schema?: string): Knex.MigratorConfig {
  return {
    directory: MIGRATIONS_DIR,
    loadExtensions: ['.ts'],
    schemaName: schema,
    tableName: 'knex_migrations',
  };
}

/** Brings the schema up to date (creating the schema first when one is named). */
export async function migrate(db: Knex, schema?: string): Promise<string[]> {
  if (schema) {
    await db.raw('CREATE SCHEMA IF NOT EXISTS ??', [schema]);
  }
  const [, applied] = (await db.migrate.latest(migrationConfig(schema))) as [number, string[]];
  return applied;
}

/** True when the database answers a trivial query. */
export async function pingDb(db: Knex): Promise<boolean> {
  try {
    await db.raw('select 1');
    return true;
  } catch {
    return false;
  }
}
