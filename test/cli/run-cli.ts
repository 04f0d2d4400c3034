/** Runs the `stagecoach` CLI as its own process (node bin/stagecoach.js), as a user would. */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

const BIN = path.join(process.cwd(), 'bin', 'stagecoach.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliRun {
  child: ChildProcess;
  /** Output so far (the test can wait for a line before acting). */
  output(): { stdout: string; stderr: string };
  done: Promise<CliResult>;
}

/** Starts the CLI against `url` (no STAGECOACH_* of the caller's environment leaks in). */
export function startCli(args: string[], url: string, env: Record<string, string> = {}): CliRun {
  const base = { ...process.env };
  delete base.STAGECOACH_URL;
  delete base.STAGECOACH_TOKEN;
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...base, STAGECOACH_URL: url, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, output: () => ({ stdout, stderr }), done };
}

/** Runs the CLI to its end. The server may live in this process: never a sync spawn. */
export function runCli(
  args: string[],
  url: string,
  env: Record<string, string> = {},
): Promise<CliResult> {
  return startCli(args, url, env).done;
}

/** Polls until `pred` holds for the run's output (or `ms` pass). */
export async function waitForOutput(
  run: CliRun,
  pred: (o: { stdout: string; stderr: string }) => boolean,
  ms = 60_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred(run.output())) {
    if (Date.now() > deadline) {
      throw new Error(`output never matched; got:\n${JSON.stringify(run.output())}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Writes a manifest file for `deploy` and returns its path. */
export async function manifestFile(dir: string, name: string, manifest: unknown): Promise<string> {
  const file = path.join(dir, `${name}.json`);
  await writeFile(file, JSON.stringify(manifest));
  return file;
}

/** A stack trace's tell-tale line: never in what the CLI prints. */
export const STACK_LINE = /^\s+at .+\(?.*:\d+:\d+\)?$/m;
