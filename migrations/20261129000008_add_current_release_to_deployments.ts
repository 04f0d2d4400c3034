import type { Knex } from 'knex';

/** The sha256 of the release serving now (shared/repositories/releases.ts markServing). */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('deployments', (t) => {
    t.text('current_release');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('deployments', (t) => {
    t.dropColumn('current_release');
  });
}
