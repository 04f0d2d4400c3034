import type { Knex } from 'knex';

/**
 * Live events (GET /api/v1/deployments/:id/events, GET /api/v1/events): NOTIFY on channel
 * `stagecoach_events`, payload `<deployment id>:<kind>`, from triggers, so every writer (run
 * writes, creation, log flushes, progress and health patches) wakes the API processes in the
 * writing transaction, delivered at its commit. A notification only wakes listeners: they read
 * the rows themselves, so one that is lost costs latency, never an event.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create function stagecoach_notify_rows() returns trigger language plpgsql as $$
    begin
      perform pg_notify('stagecoach_events', s.d::text || ':' || tg_argv[0])
        from (select distinct deployment_id as d from new_rows) s;
      return null;
    end $$;

    create trigger deployment_events_notify after insert on deployment_events
      referencing new table as new_rows for each statement
      execute function stagecoach_notify_rows('event');

    create trigger deployment_logs_notify after insert on deployment_logs
      referencing new table as new_rows for each statement
      execute function stagecoach_notify_rows('log');

    create function stagecoach_notify_deployment() returns trigger language plpgsql as $$
    begin
      if new.progress::text is distinct from old.progress::text then
        perform pg_notify('stagecoach_events', new.id::text || ':progress');
      end if;
      if (new.health->>'state') is distinct from (old.health->>'state') then
        perform pg_notify('stagecoach_events', new.id::text || ':health');
      end if;
      if new.deleted_at is distinct from old.deleted_at then
        perform pg_notify('stagecoach_events', new.id::text || ':deleted');
      end if;
      return null;
    end $$;

    create trigger deployments_notify after update on deployments
      for each row execute function stagecoach_notify_deployment();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    drop trigger deployments_notify on deployments;
    drop trigger deployment_logs_notify on deployment_logs;
    drop trigger deployment_events_notify on deployment_events;
    drop function stagecoach_notify_deployment();
    drop function stagecoach_notify_rows();
  `);
}
