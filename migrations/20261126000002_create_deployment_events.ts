import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('deployment_events', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('deployment_id').notNullable().references('id').inTable('deployments');
    t.uuid('run_id');
    t.text('from_status');
    t.text('to_status').notNullable();
    t.text('stage');
    t.text('message');
    t.text('actor').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['deployment_id', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('deployment_events');
}
