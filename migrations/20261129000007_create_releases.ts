import type { Knex } from 'knex';

/**
 * Releases as data: each bundle set up on a deployment's target, with the manifest it was built
 * from, when it last became the serving release (after its health checks) and when it was pruned.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('releases', (t) => {
    t.uuid('deployment_id')
      .notNullable()
      .references('id')
      .inTable('deployments')
      .onDelete('CASCADE');
    t.text('sha256').notNullable();
    // the deployment's bundle info as recorded ({sha256, size_bytes})
    t.jsonb('bundle').notNullable();
    // the manifest snapshot the bundle was built from
    t.jsonb('manifest').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // last time it became the serving release after passing its health checks (null: never)
    t.timestamp('deployed_at', { useTz: true });
    // pruned from the target (null: still there)
    t.timestamp('removed_at', { useTz: true });
    t.primary(['deployment_id', 'sha256']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('releases');
}
