/**
 * The `stagecoach` command: a client of the HTTP API (STAGECOACH_URL, STAGECOACH_TOKEN).
 * Every failure ends as one sentence on stderr and an exit code from ./exit.ts.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { registerActions } from './commands/actions.js';
import { registerDeploy } from './commands/deploy.js';
import { registerInspect } from './commands/inspect.js';
import { registerLogs } from './commands/logs.js';
import { registerReads } from './commands/read.js';
import { CliError, EXIT } from './exit.js';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const EXIT_HELP = `
Environment:
  STAGECOACH_URL    stagecoach's address (default http://localhost:3000)
  STAGECOACH_TOKEN  API token (Authorization: Bearer), when the API requires one

Exit codes:
  0    done; a followed run ended as asked (deployed, or stopped for stop)
  1    a followed run failed (the failing step, code and message are printed), or inspect found the target not ok
  2    usage or input error: arguments, an unreadable or non-JSON manifest, a 400/422 answer
  3    stagecoach refused the request (not found, conflict, unauthorized, …)
  4    stagecoach cannot be reached, failed (5xx), or the event stream was lost
  130  Ctrl-C while following: following stopped; the deployment goes on`;

/** The program with every command. */
export function buildProgram(): Command {
  const program = new Command('stagecoach')
    .description('Deploy apps to your own servers through a stagecoach API.')
    .version(pkg.version)
    .addOption(
      new Option('--url <url>', "stagecoach's address")
        .env('STAGECOACH_URL')
        .default('http://localhost:3000'),
    )
    .addOption(new Option('--token <token>', 'API token').env('STAGECOACH_TOKEN'))
    .option('--json', "print the API's JSON for scripts (JSON lines with --follow)")
    .addHelpText('after', EXIT_HELP)
    .showHelpAfterError('(see: stagecoach --help)')
    .exitOverride();
  registerDeploy(program);
  registerReads(program);
  registerLogs(program);
  registerInspect(program);
  registerActions(program);
  // subcommands inherit the override: a usage error is exit 2, not commander's 1
  program.commands.forEach((c) => c.exitOverride());
  return program;
}

/** Runs the CLI with `argv`; resolves to the exit code. */
export async function run(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return Number(process.exitCode ?? EXIT.ok);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander printed its message (or the help) already
      return err.exitCode === 0 ? EXIT.ok : EXIT.input;
    }
    if (err instanceof CliError) {
      process.stderr.write(`stagecoach: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(
      `stagecoach: unexpected error: ${(err as Error).message ?? String(err)} (this is a bug of the CLI; please report it)\n`,
    );
    return EXIT.unreachable;
  }
}

// a reader that went away (`stagecoach logs … | head`) is not an error: stop quietly
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') {
    process.exit(0);
  }
  throw err;
});
process.exitCode = await run(process.argv);
