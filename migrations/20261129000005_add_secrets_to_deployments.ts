import type { Knex } from 'knex';

/**
 * Manifest secrets, sealed (AES-256-GCM, shared/secrets/box.ts): `{NAME: "v1.<iv>.<tag>.<ct>"}`.
 * The manifest snapshot keeps only each secret's kind; DELETE clears this column.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('deployments', (t) => {
    t.jsonb('secrets');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('deployments', (t) => {
    t.dropColumn('secrets');
  });
}
