/** Knex connections and migrations. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import knexFactory, { type Knex } from 'knex';

export type Db = Knex | Knex.Transaction;

const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'migrations');

/** Opens a pool to `url`; with `schema`, every connection uses it as search_path. */
export function createDb(url: string, schema?: string): Knex {
  return knexFactory({
    client: 'pg',
    connection: url,
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
