/** Targets: where a deployment lives, and opening a Transport to it. */
import path from 'node:path';
import type { Config } from './config.js';
import { AppError } from './errors.js';
import type { Manifest } from './manifest.js';
import { LocalTransport } from './transports/local.js';
import { insideDir } from './transports/paths.js';
import { connectSsh } from './transports/ssh.js';
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

const trimSlashes = (p: string): string => path.posix.normalize(p).replace(/\/+$/, '') || '/';

/** A stable key for "the same place on the same target" (two deployments may not share one). */
export function targetKey(manifest: Manifest): string {
  const t = manifest.target;
  if (t.type === 'local') {
    return `local:${trimSlashes(t.workdir)}`;
  }
  const workdir = t.workdir === '~' ? '~' : trimSlashes(t.workdir.replace(/^~\//, ''));
  return `ssh:${t.user}@${t.host.toLowerCase()}:${t.port}:${workdir}`;
}

/** Opens the transport for a manifest's target; `hostKey` is the fingerprint to insist on. */
export async function openTransport(
  manifest: Manifest,
  config: Config,
  hostKey?: string,
): Promise<Transport> {
  const t = manifest.target;
  if (t.type === 'local') {
    return new LocalTransport(resolveLocalWorkdir(config.dataDir, t.workdir));
  }
  return connectSsh({
    host: t.host,
    port: t.port,
    user: t.user,
    keyPath: t.key_path,
    agentSocket: config.SSH_AUTH_SOCK,
    keysDir: config.SSH_KEYS_DIR,
    expectedHostKey: hostKey,
    workdir: t.workdir,
  });
}

/** The host a target lives on, for HOST_CONCURRENCY (every local target is this machine). */
export function targetHost(manifest: Manifest): string {
  const t = manifest.target;
  return t.type === 'local' ? 'local' : `ssh:${t.host.toLowerCase()}:${t.port}`;
}

/** `<host>|<domain>` of a manifest's edge (one live owner each), or null without an edge. */
export function edgeKey(manifest: Manifest): string | null {
  return manifest.edge ? `${targetHost(manifest)}|${manifest.edge.domain.toLowerCase()}` : null;
}
