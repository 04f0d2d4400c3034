/** Preflight: checks the target before anything on it changes (first step of setup). */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { StepError } from '../../shared/errors.js';
import type { Manifest } from '../../shared/manifest.js';
import type { Transport } from '../../shared/transports/types.js';
import type { StageContext } from '../context.js';
import type { StageRecorder } from '../recorder.js';
import { OUTPUT_INVALID, parseResult, runChecked } from '../remote.js';

/** What the workdir already holds of the bundle, as preflight found it. */
export interface TargetFacts {
  /** releases/<sha> exists and finished setup: setup has nothing to do. */
  releaseReady: boolean;
  /** The file store exists: without it nothing can be reused, so the whole bundle goes. */
  store: boolean;
}

/** What preflight found: its result for setup_result, and the target's facts. */
export interface Preflight {
  result: Record<string, unknown>;
  target: TargetFacts;
}

/**
 * Runs scripts/target/preflight.sh on the target; a failing check fails the step. It also
 * reports what the workdir holds of bundle `sha256` (one command instead of three).
 */
export async function runPreflight(
  ctx: StageContext,
  manifest: Manifest,
  t: Transport,
  rec: StageRecorder,
  sha256: string,
): Promise<Preflight> {
  // the workdir rule and the JSON encoder come first: preflight runs before the bundle (and
  // its lib/) is there
  const parts = await Promise.all(
    ['lib/system-dirs.sh', 'lib/json.sh', 'preflight.sh'].map((f) =>
      readFile(path.join(ctx.scriptsDir, f), 'utf8'),
    ),
  );
  const script = parts.join('\n');
  const edge = manifest.edge;
  const httpPort = edge ? String(edge.http_port ?? 80) : '-';
  const httpsPort = edge && edge.tls !== 'off' ? String(edge.https_port ?? 443) : '-';
  const argv = [
    'bash',
    '-c',
    script,
    'preflight',
    t.workdir,
    String(ctx.config.PREFLIGHT_MIN_DISK_MB),
    String(ctx.config.PREFLIGHT_MIN_MEMORY_MB),
    httpPort,
    httpsPort,
    edge ? '1' : '0',
    sha256,
  ];
  return rec.step('preflight', 'Preflight checks', async (h) => {
    const r = await runChecked(t, argv, { step: 'preflight', code: 'preflight_failed', handle: h });
    const { target, ...result } = parseResult(r, 'preflight');
    return { result, target: targetFacts(target) };
  });
}

/** The `target` member of preflight's result; anything else is `target_output_invalid`. */
function targetFacts(value: unknown): TargetFacts {
  const v = value as Record<string, unknown> | undefined;
  if (typeof v?.release_ready !== 'boolean' || typeof v.store !== 'boolean') {
    throw new StepError(
      'preflight',
      OUTPUT_INVALID,
      `preflight: the target reported no valid "target" facts (${JSON.stringify(value) ?? 'none'}); the target scripts and this worker may be of different versions`,
    );
  }
  return { releaseReady: v.release_ready, store: v.store };
}
