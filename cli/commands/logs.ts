/** `stagecoach logs <id> [--follow]`: the output of a deployment's steps. */
import type { Command } from 'commander';
import type { StagecoachClient } from '../client.js';
import { context, deploymentPath, printJson } from '../context.js';
import { EXIT } from '../exit.js';
import { followEvents } from '../follow.js';
import { withInterrupt } from '../follow-run.js';
import { isShown, LineSplitter, type LogLine } from '../log-lines.js';
import type { Deployment, LogChunk } from '../types.js';
import { out } from '../view.js';

interface LogsOptions {
  follow?: boolean;
  run?: string;
  allRuns?: boolean;
  raw?: boolean;
}

const PAGE = 1000;

/** Prints log chunks: raw as they came, or as `[stage/step] line` without protocol lines. */
class LogPrinter {
  private readonly lines = new LineSplitter();
  constructor(private readonly raw: boolean) {}

  chunk(c: LogChunk): void {
    if (this.raw) {
      process.stdout.write(c.chunk);
      return;
    }
    this.lines.push(c).forEach((l) => this.line(l));
  }

  end(): void {
    if (!this.raw) {
      this.lines.flush().forEach((l) => this.line(l));
    }
  }

  private line(l: LogLine): void {
    if (isShown(l.text)) {
      out(`[${l.stage}/${l.step}] ${l.text}`);
    }
  }
}

/** Every log chunk of a run (or of all runs), page by page. */
async function readAll(client: StagecoachClient, id: string, runId: string | null) {
  const chunks: LogChunk[] = [];
  for (let after = 0; ;) {
    const q = new URLSearchParams({ after: String(after), limit: String(PAGE) });
    if (runId) {
      q.set('run_id', runId);
    }
    const page = await client.json<{ logs: LogChunk[]; next_after: number }>(
      'GET',
      deploymentPath(id, `/logs?${q}`),
    );
    chunks.push(...page.logs);
    if (page.logs.length < PAGE) {
      return chunks;
    }
    after = page.next_after;
  }
}

/** Registers `logs`. */
export function registerLogs(program: Command): void {
  program
    .command('logs')
    .description("the output of a deployment's steps (its latest run unless told otherwise)")
    .argument('<id>', 'deployment id')
    .option('-f, --follow', 'stream new output until the run ends')
    .option('--run <run_id>', 'the output of this run')
    .option('--all-runs', 'the output of every run')
    .option('--raw', 'the output exactly as recorded (protocol lines included)')
    .action(async (id: string, opts: LogsOptions, self: Command) => {
      const { client, json } = context(self);
      const printer = new LogPrinter(opts.raw === true);
      if (opts.follow) {
        // the stream starts at the latest run and ends when the deployment rests
        await withInterrupt((signal) =>
          followEvents(client, id, {
            signal,
            onEvent: (e) => {
              if (e.event === 'log') {
                return json ? out(JSON.stringify(e.data)) : printer.chunk(e.data);
              }
            },
          }),
        );
        printer.end();
        process.exitCode = EXIT.ok;
        return;
      }
      const runId = opts.allRuns
        ? null
        : (opts.run ??
          (await client.json<{ deployment: Deployment }>('GET', deploymentPath(id))).deployment
            .run_id);
      const chunks = await readAll(client, id, runId);
      if (json) {
        return printJson({ logs: chunks });
      }
      chunks.forEach((c) => printer.chunk(c));
      printer.end();
    });
}
