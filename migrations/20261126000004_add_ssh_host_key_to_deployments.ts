import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('deployments', (t) => {
    // fingerprint trusted on first use when the manifest gives no host_key
    t.text('ssh_host_key');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('deployments', (t) => {
    t.dropColumn('ssh_host_key');
  });
}
