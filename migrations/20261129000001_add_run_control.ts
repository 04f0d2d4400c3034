import type { Knex } from 'knex';

/**
 * Run control: the active run's kind, its current stage and generation, the lease of the
 * worker running it, a cancel request; history event kinds; the job outbox; host slots.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('deployments', (t) => {
    // non-null exactly while a run is active: the one place that says so
    t.text('run_kind');
    // the stage the active run is in or queued for, and the generation of its current job
    t.text('run_stage');
    // what the run was asked for (force_rebuild, stop_resources): jobs carry ids only
    t.jsonb('run_options');
    t.integer('stage_gen').notNullable().defaultTo(0);
    t.integer('stage_attempts').notNullable().defaultTo(0);
    t.uuid('lease_token');
    t.timestamp('lease_expires_at', { useTz: true });
    t.timestamp('cancel_requested_at', { useTz: true });
    t.text('cancel_actor');
    t.index(['lease_expires_at']);
  });
  await knex.schema.alterTable('deployment_events', (t) => {
    t.text('kind').notNullable().defaultTo('status');
  });
  await knex.schema.createTable('job_outbox', (t) => {
    t.bigIncrements('id').primary();
    t.text('job_name').notNullable();
    t.text('job_id').notNullable();
    t.jsonb('payload').notNullable();
    t.integer('delay_ms').notNullable().defaultTo(0);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.createTable('host_slots', (t) => {
    t.text('host').notNullable();
    t.integer('slot').notNullable();
    t.uuid('token').notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.primary(['host', 'slot']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('host_slots');
  await knex.schema.dropTable('job_outbox');
  await knex.schema.alterTable('deployment_events', (t) => {
    t.dropColumn('kind');
  });
  await knex.schema.alterTable('deployments', (t) => {
    t.dropIndex(['lease_expires_at']);
    for (const c of [
      'run_kind',
      'run_stage',
      'run_options',
      'stage_gen',
      'stage_attempts',
      'lease_token',
      'lease_expires_at',
      'cancel_requested_at',
      'cancel_actor',
    ]) {
      t.dropColumn(c);
    }
  });
}
