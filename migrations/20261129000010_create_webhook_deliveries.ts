import type { Knex } from 'knex';

/**
 * One row per event and webhook, written in the transaction of the change it reports (so no
 * crash loses it), delivered by the workers' delivery loop with retries. `body` is the exact
 * JSON sent (and signed) on every attempt; `attempt_log` records each attempt.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('webhook_deliveries', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('webhook_id').notNullable().references('id').inTable('webhooks').onDelete('CASCADE');
    t.uuid('deployment_id').notNullable();
    t.text('event').notNullable();
    t.text('body').notNullable();
    // pending → delivered | failed (attempts used up)
    t.text('status').notNullable().defaultTo('pending');
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.integer('last_status_code');
    t.text('last_error');
    t.jsonb('attempt_log').notNullable().defaultTo('[]');
    t.timestamp('delivered_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['webhook_id', 'id']);
  });
  // the delivery loop's claim reads only due pending rows
  await knex.raw(
    "CREATE INDEX webhook_deliveries_due ON ?? (next_attempt_at) WHERE status = 'pending'",
    ['webhook_deliveries'],
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('webhook_deliveries');
}
