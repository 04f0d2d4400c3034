import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('deployment_logs', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('deployment_id').notNullable().references('id').inTable('deployments');
    t.uuid('run_id');
    t.text('stage').notNullable();
    t.text('step').notNullable();
    t.text('stream').notNullable();
    t.text('chunk').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['deployment_id', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('deployment_logs');
}
