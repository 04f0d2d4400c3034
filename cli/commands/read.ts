/** The read commands: list, status, history, releases. */
import { Option, type Command } from 'commander';
import { context, deploymentPath, printJson } from '../context.js';
import { failureSentence, shortSha, table, targetText, when } from '../format.js';
import type { Deployment, HistoryEvent } from '../types.js';
import { err, out } from '../view.js';

interface Release {
  sha256: string;
  created_at: string;
  deployed_at: string | null;
  current: boolean;
}

/** The run part of `status`: what runs now, or what ran last. */
function runText(d: Deployment): string {
  if (!d.run_active) {
    return d.run_id ? `none active (last ${d.run_id})` : 'none yet';
  }
  const p = d.progress;
  const at = p ? `, ${p.stage}: ${p.step} (${p.percent}%)` : '';
  return `${d.run_kind ?? 'run'} ${d.run_id ?? ''} under way${at}`;
}

/** `status` as lines of `label  value`. */
export function statusLines(d: Deployment): string {
  const h = d.health;
  const rows: [string, string][] = [
    ['deployment', d.id],
    ['name', `${d.name ?? '-'} (scenario ${d.scenario})`],
    ['target', targetText(d)],
    ['status', d.status],
    ['run', runText(d)],
    [
      'health',
      h ? `${h.state}, checked ${when(h.checked_at)}${h.error ? `: ${h.error}` : ''}` : '-',
    ],
    ['release', shortSha(d.current_release)],
    ['deployed', when(d.last_deployed_at)],
    ['updated', when(d.updated_at)],
  ];
  if (d.status === 'failed') {
    rows.push(['error', failureSentence(d)]);
  }
  return rows.map(([k, v]) => `${k.padEnd(10)}  ${v}`).join('\n');
}

/** Registers list, status, history and releases. */
export function registerReads(program: Command): void {
  program
    .command('list')
    .description('list deployments, newest first')
    .option('--status <status>', 'only this status (e.g. deployed, failed)')
    .addOption(
      new Option('--health <state>', 'deployed ones in this health state').choices([
        'healthy',
        'degraded',
        'down',
      ]),
    )
    .option('--limit <n>', 'how many (1-100)', '20')
    .option('--cursor <cursor>', 'the next page (printed under a full page)')
    .action(async (opts: Record<string, string | undefined>, self: Command) => {
      const { client, json } = context(self);
      const q = new URLSearchParams();
      for (const key of ['status', 'health', 'limit', 'cursor']) {
        if (opts[key]) {
          q.set(key, opts[key]);
        }
      }
      const page = await client.json<{ deployments: Deployment[]; next_cursor: string | null }>(
        'GET',
        `/deployments?${q}`,
      );
      if (json) {
        return printJson(page);
      }
      if (!page.deployments.length) {
        return out('no deployments');
      }
      const rows = page.deployments.map((d) => [
        d.id,
        d.name ?? d.scenario,
        d.run_active ? `${d.status} (${d.run_kind ?? 'run'} under way)` : d.status,
        d.health?.state ?? '-',
        when(d.updated_at),
      ]);
      out(table(['ID', 'NAME', 'STATUS', 'HEALTH', 'UPDATED'], rows));
      if (page.next_cursor) {
        err(`more: stagecoach list --cursor ${page.next_cursor}`);
      }
    });

  program
    .command('status')
    .description("a deployment's status, health, release and error")
    .argument('<id>', 'deployment id')
    .action(async (id: string, _opts: unknown, self: Command) => {
      const { client, json } = context(self);
      const body = await client.json<{ deployment: Deployment }>('GET', deploymentPath(id));
      return json ? printJson(body) : out(statusLines(body.deployment));
    });

  program
    .command('history')
    .description("a deployment's history: status changes, runs and stages, oldest first")
    .argument('<id>', 'deployment id')
    .action(async (id: string, _opts: unknown, self: Command) => {
      const { client, json } = context(self);
      const body = await client.json<{ events: HistoryEvent[] }>(
        'GET',
        deploymentPath(id, '/history'),
      );
      if (json) {
        return printJson(body);
      }
      const rows = body.events.map((e) => [
        when(e.created_at),
        e.kind,
        e.kind === 'status' ? `${e.from_status ?? '-'} → ${e.to_status}` : e.to_status,
        e.stage ?? '-',
        e.actor,
        e.message ?? '',
      ]);
      out(table(['TIME (UTC)', 'KIND', 'STATUS', 'STAGE', 'BY', 'MESSAGE'], rows));
    });

  program
    .command('releases')
    .description('the releases the target still holds (for rollback --sha256)')
    .argument('<id>', 'deployment id')
    .action(async (id: string, _opts: unknown, self: Command) => {
      const { client, json } = context(self);
      const body = await client.json<{ releases: Release[] }>(
        'GET',
        deploymentPath(id, '/releases'),
      );
      if (json) {
        return printJson(body);
      }
      const rows = body.releases.map((r) => [
        r.sha256,
        r.current ? 'serving' : '',
        when(r.created_at),
        when(r.deployed_at),
      ]);
      out(rows.length ? table(['SHA256', 'NOW', 'SET UP', 'LAST SERVED'], rows) : 'no releases');
    });
}
