/** Preflight: checks the target before anything on it changes (first step of setup). */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Manifest } from '../../shared/manifest.js';
import type { Transport } from '../../shared/transports/types.js';
import type { StageContext } from '../context.js';
import type { StageRecorder } from '../recorder.js';
import { parseResult, runChecked } from '../remote.js';

/** Runs scripts/target/preflight.sh on the target; a failing check fails the step. */
export async function runPreflight(
  ctx: StageContext,
  manifest: Manifest,
  t: Transport,
  rec: StageRecorder,
): Promise<Record<string, unknown>> {
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
  ];
  return rec.step('preflight', 'Preflight checks', async (h) => {
    const r = await runChecked(t, argv, { step: 'preflight', code: 'preflight_failed', handle: h });
    return parseResult(r, 'preflight');
  });
}
