import type { Knex } from 'knex';

/**
 * The health watch's last verdict on a `deployed` deployment:
 * `{state: healthy|degraded|down, checked_at, services: [{name, running}], error?}`.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('deployments', (t) => {
    t.jsonb('health');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('deployments', (t) => {
    t.dropColumn('health');
  });
}
