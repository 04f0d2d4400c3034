import type { Knex } from 'knex';

/**
 * One owner per edge domain on a target host: `edge_key` (`<host>|<domain>`) is unique among
 * live deployments, so of two creates racing for one domain exactly one wins.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('deployments', (t) => {
    t.text('edge_key');
  });
  // existing rows: the newest live owner of each host and domain keeps it
  await knex.raw(`
    with keyed as (
      select id, created_at,
        case when manifest->'target'->>'type' = 'ssh'
          then 'ssh:' || lower(manifest->'target'->>'host') || ':' || coalesce(manifest->'target'->>'port', '22')
          else 'local' end || '|' || lower(manifest->'edge'->>'domain') as k
      from deployments
      where deleted_at is null and manifest->'edge'->>'domain' is not null
    ), ranked as (
      select id, k, row_number() over (partition by k order by created_at desc) as n from keyed
    )
    update deployments d set edge_key = r.k from ranked r where r.id = d.id and r.n = 1`);
  await knex.raw(
    'CREATE UNIQUE INDEX deployments_live_edge_key ON deployments (edge_key) WHERE deleted_at IS NULL',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS deployments_live_edge_key');
  await knex.schema.alterTable('deployments', (t) => {
    t.dropColumn('edge_key');
  });
}
