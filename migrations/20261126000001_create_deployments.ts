import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('deployments', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('name').notNullable();
    t.text('scenario').notNullable();
    t.text('status').notNullable().defaultTo('pending');
    t.jsonb('manifest').notNullable();
    // where on which target the deployment lives; two live deployments may not share one
    t.text('target_key').notNullable();
    t.jsonb('bundle');
    t.jsonb('setup_result');
    t.jsonb('deploy_result');
    t.jsonb('inspect_result');
    t.jsonb('stop_result');
    t.text('error_step');
    t.text('error_code');
    t.text('error_message');
    t.uuid('run_id');
    t.jsonb('progress');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_deployed_at', { useTz: true });
    t.timestamp('last_inspected_at', { useTz: true });
    t.timestamp('deleted_at', { useTz: true });
    t.index(['status']);
    t.index(['scenario']);
    t.index(['created_at', 'id']);
  });
  await knex.raw(
    'CREATE UNIQUE INDEX deployments_live_target_key ON deployments (target_key) WHERE deleted_at IS NULL',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('deployments');
}
