import type { Knex } from 'knex';

/** Log retention ranks a deployment's runs by their newest row: an index-only scan with this. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('deployment_logs', (t) => {
    t.index(['deployment_id', 'run_id', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('deployment_logs', (t) => {
    t.dropIndex(['deployment_id', 'run_id', 'id']);
  });
}
