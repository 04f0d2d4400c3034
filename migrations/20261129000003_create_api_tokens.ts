import type { Knex } from 'knex';

/**
 * Named API tokens, stored only as a SHA-256 of the token. A revoked token keeps its row (the
 * history's actors name tokens), and its name becomes free for a new token.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('api_tokens', (t) => {
    t.bigIncrements('id').primary();
    t.text('name').notNullable();
    t.text('token_hash').notNullable().unique();
    t.boolean('read_only').notNullable().defaultTo(false);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('revoked_at', { useTz: true });
  });
  await knex.raw('CREATE UNIQUE INDEX api_tokens_live_name ON ?? (name) WHERE revoked_at IS NULL', [
    'api_tokens',
  ]);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('api_tokens');
}
