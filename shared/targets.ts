/** Opening a Transport for a deployment's target. */
import path from 'node:path';
import type { Config } from './config.js';
import { AppError } from './errors.js';
import type { Manifest } from './manifest.js';
import { insideDir, LocalTransport } from './transports/local.js';
import type { Transport } from './transports/types.js';

/** Where local targets may live: `<data dir>/targets/…`. */
export function resolveLocalWorkdir(dataDir: string, workdir: string): string {
  const root = path.join(dataDir, 'targets');
  const full = insideDir(dataDir, workdir);
  if (!full.startsWith(root + path.sep)) {
    throw new AppError('invalid_manifest', 'a local target workdir must be inside targets/', 422, {
      issues: [{ path: 'target.workdir', message: 'must start with targets/' }],
    });
  }
  return full;
}

/** A stable key for "the same place on the same target" (two deployments may not share one). */
export function targetKey(manifest: Manifest): string {
  return `local:${path.posix.normalize(manifest.target.workdir).replace(/\/+$/, '')}`;
}

/** Opens the transport for a manifest's target. */
export async function openTransport(manifest: Manifest, config: Config): Promise<Transport> {
  return new LocalTransport(resolveLocalWorkdir(config.dataDir, manifest.target.workdir));
}
