/**
 * A "remote" server for SSH tests: a real sshd on loopback and a directory on this machine that
 * holds the targets' workdirs and the managed Caddy's edge dir (kept out of the real home).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stopTargetsUnder } from './cleanup.js';
import { startSshd, type Sshd } from './sshd.js';

export interface RemoteHost {
  sshd: Sshd;
  dir: string;
  edgeHome: string;
  /** An ssh target (manifest `target`) with workdir `<dir>/<name>`. */
  target(name: string, overrides?: Record<string, unknown>): Record<string, unknown>;
  /** Replaces a killed sshd with a fresh one (new port, new host key). */
  restartSshd(): Promise<void>;
  /** Stops what runs in the workdirs, the managed Caddy and sshd; removes the directory. */
  close(): Promise<void>;
}

/** Starts the sshd and makes the directory (reachable by `postgres` when running as root). */
export async function startRemoteHost(): Promise<RemoteHost> {
  const dir = await mkdtemp(path.join(tmpdir(), 'stagecoach-remote-'));
  await chmod(dir, 0o711);
  const edgeHome = path.join(dir, 'edge');
  const start = () => startSshd([`SetEnv STAGECOACH_EDGE_HOME=${edgeHome}`]);
  const host: RemoteHost = {
    sshd: await start(),
    dir,
    edgeHome,
    target: (name, overrides = {}) => ({
      type: 'ssh',
      host: '127.0.0.1',
      port: host.sshd.port,
      user: host.sshd.user,
      key_path: host.sshd.clientKeyPath,
      workdir: path.join(dir, name),
      ...overrides,
    }),
    async restartSshd() {
      await host.sshd.stop();
      host.sshd = await start();
    },
    async close() {
      // the deployments' own stop may not reach a killed sshd: stop things here directly
      stopTargetsUnder(dir);
      const pidFile = path.join(edgeHome, 'caddy.pid');
      if (existsSync(pidFile)) {
        spawnSync('kill', [readFileSync(pidFile, 'utf8').trim()]);
      }
      await host.sshd.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return host;
}
