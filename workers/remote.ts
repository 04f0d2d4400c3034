/** Running commands and the bundle's manage.sh on a target, turning failures into StepErrors. */
import { StepError } from '../shared/errors.js';
import type { ExecResult, Transport } from '../shared/transports/types.js';
import type { StepHandle } from './recorder.js';

const RESULT_PREFIX = 'STAGECOACH_RESULT ';
const MESSAGE_TAIL_LINES = 20;

/** Target-relative paths of a bundle and its release. */
export const targetPaths = (sha256: string) => ({
  bundle: `bundles/${sha256}.tar.gz`,
  release: `releases/${sha256}`,
});

export interface RunOptions {
  step: string;
  /** Error code when the command exits non-zero. */
  code: string;
  handle?: StepHandle;
  cwd?: string;
  env?: Record<string, string>;
  signal?: AbortSignal;
  /** Exit codes mapped to a more specific error code. */
  exitCodes?: Record<number, string>;
}

/** The last lines of a command's output, stderr after stdout. */
export function outputTail(result: ExecResult, lines = MESSAGE_TAIL_LINES): string {
  const text = `${result.stdout}\n${result.stderr}`
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith(RESULT_PREFIX));
  return text.slice(-lines).join('\n');
}

/** Runs argv; a non-zero exit throws a StepError naming the step, with the output's tail. */
export async function runChecked(
  t: Transport,
  argv: readonly string[],
  opts: RunOptions,
): Promise<ExecResult> {
  const result = await t.exec(argv, {
    cwd: opts.cwd,
    env: opts.env,
    signal: opts.signal,
    onOutput: opts.handle ? (s, c) => opts.handle?.output(s, c) : undefined,
  });
  if (result.code !== 0) {
    const lastErr = result.stderr.trim().split('\n').pop() ?? '';
    const how = result.code === null ? `killed by ${result.signal}` : `exit ${result.code}`;
    const code = (result.code !== null && opts.exitCodes?.[result.code]) || opts.code;
    throw new StepError(
      opts.step,
      code,
      `${opts.step} failed (${how})${lastErr ? `: ${lastErr}` : ''}\n--- output tail ---\n${outputTail(result)}`,
    );
  }
  return result;
}

/** Parses the `STAGECOACH_RESULT {json}` line a manage.sh command prints last. */
export function parseResult(stdout: string): Record<string, unknown> {
  const line = stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith(RESULT_PREFIX));
  if (!line) {
    return {};
  }
  try {
    return JSON.parse(line.slice(RESULT_PREFIX.length)) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/** Runs `./manage.sh <command> [args]` in a release directory and returns its result JSON. */
export async function manage(
  t: Transport,
  releaseDir: string,
  command: string,
  args: string[],
  opts: RunOptions & { home: string },
): Promise<Record<string, unknown>> {
  const result = await runChecked(t, ['./manage.sh', command, ...args], {
    ...opts,
    cwd: releaseDir,
    env: { ...opts.env, STAGECOACH_HOME: opts.home },
  });
  return parseResult(result.stdout);
}
