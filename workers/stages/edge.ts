/** Deploy's edge steps: Caddy's site block for the deployment, then health check 3 (HTTPS). */
import { StepError } from '../../shared/errors.js';
import type { EdgePlan } from '../../shared/edge.js';
import type { Manifest } from '../../shared/manifest.js';
import type { Transport } from '../../shared/transports/types.js';
import type { StageContext } from '../context.js';
import { probeUntil } from '../https-check.js';
import type { StageRecorder } from '../recorder.js';
import { manage } from '../remote.js';

/** Where managed Caddy keeps its config: per data dir locally, `~/.stagecoach-edge` on SSH. */
export function edgeEnv(ctx: StageContext, t: Transport): Record<string, string> {
  return t.kind === 'local' ? { STAGECOACH_EDGE_HOME: `${ctx.config.dataDir}/edge` } : {};
}

/** The address the worker reaches the target's edge at. */
function edgeHost(manifest: Manifest): string {
  return manifest.target.type === 'ssh' ? manifest.target.host : '127.0.0.1';
}

/** Reads Caddy's internal root certificate, waiting for Caddy to create it. */
async function readRootCa(t: Transport, file: string, timeoutS: number): Promise<string> {
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const r = await t.exec(['cat', '--', file]);
    if (r.code === 0 && r.stdout.includes('BEGIN CERTIFICATE')) {
      return r.stdout;
    }
    if (Date.now() > deadline) {
      throw new StepError(
        'https_check',
        'edge_ca_missing',
        `Caddy's internal root ${file} did not appear`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Applies the site block and checks the edge end to end; null when there is no edge. */
export async function runEdge(
  ctx: StageContext,
  manifest: Manifest,
  plan: EdgePlan | null,
  t: Transport,
  release: string,
  rec: StageRecorder,
): Promise<Record<string, unknown> | null> {
  if (!plan) {
    return null;
  }
  const applied = await rec.step('edge_configure', 'Configure Caddy', (h) =>
    manage(t, release, 'edge-apply', [], {
      step: 'edge_configure',
      code: 'edge_config_failed',
      handle: h,
      home: t.workdir,
      env: edgeEnv(ctx, t),
    }),
  );
  const timeoutS = manifest.health.timeout_s;
  const https = await rec.step(
    'https_check',
    plan.tls === 'off' ? 'HTTP through Caddy' : 'HTTPS through Caddy',
    async (h) => {
      const ca =
        plan.tls === 'internal'
          ? await readRootCa(t, String(applied.root_ca), timeoutS)
          : undefined;
      const port = plan.httpsPort ?? plan.httpPort;
      const path = typeof applied.health_path === 'string' ? applied.health_path : '/';
      const probe = {
        host: edgeHost(manifest),
        port,
        domain: plan.domain,
        path,
        tls: plan.tls !== 'off',
        ca,
      };
      const r = await probeUntil(probe, timeoutS);
      const what = `${probe.tls ? 'https' : 'http'}://${plan.domain}:${port}${path} via ${probe.host}`;
      h.output(
        'stdout',
        `${what}: ${r.ok ? 'ok' : 'failed'} (${r.status ?? r.error}, ${r.attempts} attempts)\n`,
      );
      if (!r.ok) {
        throw new StepError(
          'https_check',
          'https_check_failed',
          `${what} did not answer 2xx within ${timeoutS} s: ${r.status ?? r.error}`,
        );
      }
      return { url: what, status: r.status, verified: probe.tls, attempts: r.attempts };
    },
  );
  return { ...applied, https };
}
