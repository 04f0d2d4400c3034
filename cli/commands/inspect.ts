/** `stagecoach inspect <id>`: read the target (processes, resources, recent service logs). */
import type { Command } from 'commander';
import { context, deploymentPath, printJson } from '../context.js';
import { CliError, EXIT } from '../exit.js';
import { shortSha, table, when } from '../format.js';
import { out } from '../view.js';

interface ServiceStatus {
  name: string;
  running: boolean;
  state?: string;
  port?: number;
  restarts?: number;
  last_exit?: number | null;
  since?: string | null;
}

interface InspectResult {
  ok: boolean;
  at?: string;
  release?: string;
  error?: string;
  services?: ServiceStatus[];
  resources?: { name?: string; kind?: string; running?: boolean; port?: number }[];
  logs?: Record<string, string[]>;
}

/** The inspect result as text: a verdict, the services, resources and log tails. */
export function inspectText(r: InspectResult, lines: number): string {
  const parts = [
    `${r.ok ? 'ok' : 'NOT ok'}: inspected ${when(r.at)}, release ${shortSha(r.release)}${
      r.error ? `: ${r.error}` : ''
    }`,
  ];
  if (r.services?.length) {
    const rows = r.services.map((s) => [
      s.name,
      s.state ?? (s.running ? 'running' : 'down'),
      String(s.port ?? '-'),
      String(s.restarts ?? 0),
      s.last_exit === null || s.last_exit === undefined ? '-' : String(s.last_exit),
      when(s.since),
    ]);
    parts.push(table(['SERVICE', 'STATE', 'PORT', 'RESTARTS', 'LAST EXIT', 'SINCE'], rows));
  }
  for (const res of r.resources ?? []) {
    parts.push(`resource ${res.name ?? res.kind ?? '?'}: ${res.running ? 'running' : 'down'}`);
  }
  for (const [name, log] of Object.entries(r.logs ?? {})) {
    if (lines > 0 && log.length) {
      parts.push(`${name} (last ${Math.min(lines, log.length)} lines):`);
      parts.push(...log.slice(-lines).map((l) => `  │ ${l}`));
    }
  }
  return parts.join('\n');
}

/** Registers `inspect`. */
export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description("read the target now: processes, resources, the services' recent log lines")
    .argument('<id>', 'deployment id')
    .option('--wait <seconds>', 'how long to wait for the result (0-120)', '30')
    .option('--lines <n>', 'log lines per service to show', '10')
    .action(async (id: string, opts: { wait: string; lines: string }, self: Command) => {
      const { client, json } = context(self);
      const wait = Number(opts.wait);
      const lines = Number(opts.lines);
      if (!Number.isInteger(wait) || wait < 0 || wait > 120) {
        throw new CliError(`--wait must be a whole number of seconds from 0 to 120`, EXIT.input);
      }
      if (!Number.isInteger(lines) || lines < 0) {
        throw new CliError(`--lines must be a whole number`, EXIT.input);
      }
      const body = await client.json<{ job_id: string; result?: InspectResult }>(
        'POST',
        deploymentPath(id, `/inspect?wait=${wait}`),
      );
      if (json) {
        return printJson(body);
      }
      if (!body.result) {
        return out(
          `the inspect is still running (job ${body.job_id}); see: stagecoach status ${id}`,
        );
      }
      out(inspectText(body.result, lines));
      if (!body.result.ok) {
        process.exitCode = EXIT.runFailed;
      }
    });
}
