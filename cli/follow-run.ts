/** `--follow` of a run: the view for the output, Ctrl-C handling, and the exit code at the end. */
import type { StagecoachClient } from './client.js';
import { EXIT, type ExitCode } from './exit.js';
import { followEvents } from './follow.js';
import { duration, failureSentence, shortSha } from './format.js';
import { TtyView } from './tty-view.js';
import type { Deployment } from './types.js';
import { err, JsonView, out, PlainView, type FollowView } from './view.js';

export interface FollowRunOptions {
  json: boolean;
  /** The status that means success for this run: `deployed`, or `stopped` for a stop. */
  expect: string;
  /** When the command began (the summary's duration). */
  startedAt?: number;
}

/** Bars on a terminal, plain lines in a pipe, JSON lines with --json. */
function pickView(json: boolean): FollowView {
  if (json) {
    return new JsonView();
  }
  return process.stdout.isTTY ? new TtyView() : new PlainView();
}

/** Runs `fn` with a signal that Ctrl-C aborts (only while following: elsewhere Ctrl-C exits). */
export async function withInterrupt<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctl = new AbortController();
  const onSigint = () => ctl.abort();
  process.on('SIGINT', onSigint);
  try {
    return await fn(ctl.signal);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** Follows the deployment's run until it rests; prints the outcome; returns the exit code. */
export async function followRun(
  client: StagecoachClient,
  id: string,
  opts: FollowRunOptions,
): Promise<ExitCode> {
  const started = opts.startedAt ?? Date.now();
  const view = pickView(opts.json);
  if (!opts.json) {
    err(`following deployment ${id} (Ctrl-C stops following; the deployment goes on)`);
  }
  let deployment: Deployment | null = null;
  try {
    const end = await withInterrupt((signal) =>
      followEvents(client, id, {
        signal,
        onEvent: (e) => view.event(e),
        onReconnect: (reason, delay) => view.reconnecting(reason, delay),
      }),
    );
    if (!end.deleted) {
      deployment = (await client.json<{ deployment: Deployment }>('GET', `/deployments/${id}`))
        .deployment;
    }
    view.done(deployment);
  } finally {
    view.stop();
  }
  return outcome(deployment, opts, Date.now() - started);
}

/** The last line and the exit code of a followed run. */
function outcome(d: Deployment | null, opts: FollowRunOptions, tookMs: number): ExitCode {
  if (!d) {
    err('the deployment was deleted while it was followed');
    return EXIT.runFailed;
  }
  if (d.status === opts.expect) {
    if (!opts.json) {
      const release = d.status === 'deployed' ? `, release ${shortSha(d.current_release)}` : '';
      out(`${d.status} in ${duration(tookMs)}: ${d.name ?? d.scenario} (${d.id})${release}`);
    }
    return EXIT.ok;
  }
  // a failed stop run leaves the status as it was, with the error fields set
  err(d.error_code ? failureSentence(d) : `ended ${d.status}, not ${opts.expect}`);
  return EXIT.runFailed;
}
