/** What every command gets from the global options: the client and the output mode. */
import type { Command } from 'commander';
import { StagecoachClient } from './client.js';

export interface Ctx {
  client: StagecoachClient;
  /** `--json`: print the API's JSON (JSON lines with --follow) instead of text. */
  json: boolean;
}

/** The context of the running command, from its options and the program's. */
export function context(cmd: Command): Ctx {
  const g = cmd.optsWithGlobals<{ url: string; token?: string; json?: boolean }>();
  return { client: new StagecoachClient({ url: g.url, token: g.token }), json: g.json === true };
}

/** Prints a value as one JSON document. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** The path of a deployment in the API (ids are encoded: a typo must not change the route). */
export const deploymentPath = (id: string, rest = ''): string =>
  `/deployments/${encodeURIComponent(id)}${rest}`;
