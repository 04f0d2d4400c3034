import type { Knex } from 'knex';

/**
 * History events carry the run kind and the error code as columns: readers (metrics, the CLI)
 * used to parse them out of `message`, which people read and may reword. Rows written before
 * this migration get both from their messages, by the rules those readers used, so old history
 * reads the same.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('deployment_events', (t) => {
    // the error code of the failure the event records (run_ended, stage_finished, status → failed)
    t.text('code');
    // the kind of run the event starts or ends (run_started, run_ended)
    t.text('run_kind');
  });
  await backfillEventColumns(knex);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('deployment_events', (t) => {
    t.dropColumn('run_kind');
    t.dropColumn('code');
  });
}

/** The run kinds when this migration was written (a migration must not follow later code). */
const KINDS = ['execute', 'retry', 'redeploy', 'stop', 'rollback'];

/**
 * Fills `code` and `run_kind` from the messages where both are null, the way the readers parsed
 * them: run_started "<kind>[ …]"; run_ended "<kind> run failed: <code>" or "<kind> run ended:
 * <status>"; stage_finished "<stage> failed: <code>[ …]"; status → failed "<step>: <code>". A
 * word that is not a run kind leaves run_kind null (the metrics count it as `unknown`).
 */
export async function backfillEventColumns(knex: Knex): Promise<void> {
  const kind = (word: string) => `CASE WHEN ${word} = ANY (?::text[]) THEN ${word} END`;
  await knex.raw(
    `UPDATE deployment_events SET run_kind = ${kind("split_part(message, ' ', 1)")}
      WHERE kind = 'run_started' AND run_kind IS NULL AND message IS NOT NULL`,
    [KINDS],
  );
  await knex.raw(
    `UPDATE deployment_events
        SET run_kind = ${kind("substring(message FROM '^(\\S+) run (failed|ended): ')")},
            code = substring(message FROM '^\\S+ run failed: (\\S+)')
      WHERE kind = 'run_ended' AND run_kind IS NULL AND code IS NULL AND message IS NOT NULL`,
    [KINDS],
  );
  // `${stage} failed: ` with a null stage read "null failed: " in the old reader
  await knex.raw(
    `UPDATE deployment_events
        SET code = nullif(split_part(substr(message, length(coalesce(stage, 'null')) + 10), ' ', 1), '')
      WHERE kind = 'stage_finished' AND code IS NULL
        AND left(message, length(coalesce(stage, 'null')) + 9) = coalesce(stage, 'null') || ' failed: '`,
  );
  await knex.raw(
    `UPDATE deployment_events SET code = substring(message FROM '^\\S+: ([a-z][a-z0-9_]*)$')
      WHERE kind = 'status' AND to_status = 'failed' AND code IS NULL`,
  );
}
