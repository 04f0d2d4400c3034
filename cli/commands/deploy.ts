/** `stagecoach deploy <manifest.json> [--follow]`: create a deployment and run it. */
import type { Command } from 'commander';
import { context, printJson } from '../context.js';
import { followRun } from '../follow-run.js';
import { readManifest } from '../manifest-file.js';
import type { Started } from '../types.js';
import { err, out } from '../view.js';

/** Registers `deploy`. */
export function registerDeploy(program: Command): void {
  program
    .command('deploy')
    .description('create a deployment from a manifest file and run it (build, setup, deploy)')
    .argument('<manifest>', 'path of the manifest JSON file')
    .option('-f, --follow', 'show progress and logs until it is deployed or failed')
    .action(async (file: string, opts: { follow?: boolean }, cmd: Command) => {
      const startedAt = Date.now();
      const { client, json } = context(cmd);
      const manifest = await readManifest(file);
      const started = await client.json<Started>('POST', '/deployments', {
        manifest,
        execute: true,
      });
      const d = started.deployment;
      if (json && opts.follow) {
        // the first of the JSON lines; the events follow
        out(JSON.stringify(started));
      } else if (json) {
        printJson(started);
      } else {
        out(`created deployment ${d.id} (${d.name ?? d.scenario}), run ${started.run_id ?? '-'}`);
      }
      if (!opts.follow) {
        if (!json) {
          err(`follow it with: stagecoach logs ${d.id} --follow   (or: stagecoach status ${d.id})`);
        }
        return;
      }
      process.exitCode = await followRun(client, d.id, { json, expect: 'deployed', startedAt });
    });
}
