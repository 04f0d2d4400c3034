/** Running commands and the bundle's manage.sh on a target, turning failures into StepErrors. */
import { StepError } from '../shared/errors.js';
import type { ExecResult, Transport } from '../shared/transports/types.js';
import type { StepHandle } from './recorder.js';

const RESULT_PREFIX = 'STAGECOACH_RESULT ';
const MESSAGE_TAIL_LINES = 20;

/** What a command printed. */
type Output = Pick<ExecResult, 'stdout' | 'stderr'>;

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
export function outputTail(result: Output, lines = MESSAGE_TAIL_LINES): string {
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

/** The error code of a command whose result line is missing or not a JSON object. */
export const OUTPUT_INVALID = 'target_output_invalid';

/** How much of a malformed result line an error message quotes. */
const BAD_LINE_CHARS = 300;

/**
 * The JSON object on the last `STAGECOACH_RESULT {json}` line of a command's stdout (output
 * after it is allowed). No such line, or one that is not a JSON object, is a StepError
 * `target_output_invalid` naming the step, with the output's tail: never an empty result.
 */
export function parseResult(result: Output, step: string): Record<string, unknown> {
  const line = result.stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith(RESULT_PREFIX));
  let why = 'printed no STAGECOACH_RESULT line';
  if (line !== undefined) {
    const text = line.slice(RESULT_PREFIX.length);
    const quoted = text.length > BAD_LINE_CHARS ? `${text.slice(0, BAD_LINE_CHARS)}…` : text;
    try {
      const value: unknown = JSON.parse(text);
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        return value as Record<string, unknown>;
      }
      why = `printed a result that is not a JSON object: ${quoted}`;
    } catch (err) {
      why = `printed a result that is not JSON (${(err as Error).message}): ${quoted}`;
    }
  }
  throw new StepError(
    step,
    OUTPUT_INVALID,
    `${step}: the target ${why}; the target scripts and this worker may be of different versions, or the script has a bug\n--- output tail ---\n${outputTail(result)}`,
  );
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
  return parseResult(result, opts.step);
}
