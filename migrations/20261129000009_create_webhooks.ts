import type { Knex } from 'knex';

/**
 * Webhooks: a URL that receives status and health changes, of one deployment or (deployment_id
 * null) of all. The signing secret is sealed like manifest secrets (it must be usable to sign).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('webhooks', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('url').notNullable();
    t.uuid('deployment_id').references('id').inTable('deployments').onDelete('CASCADE');
    t.text('secret_sealed').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // the fan-out in a status change's transaction looks webhooks up by deployment
    t.index(['deployment_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('webhooks');
}
