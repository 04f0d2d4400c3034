/** Stops whatever test deployments left running in target directories on this machine. */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

/** Runs `manage.sh stop --resources` in every `<root>/<target>/current` that has one. */
export function stopTargetsUnder(root: string): void {
  if (!existsSync(root)) {
    return;
  }
  for (const dir of readdirSync(root)) {
    const current = path.join(root, dir, 'current');
    if (existsSync(path.join(current, 'manage.sh'))) {
      spawnSync('./manage.sh', ['stop', '--resources'], {
        cwd: current,
        env: { PATH: process.env.PATH, STAGECOACH_HOME: path.join(root, dir) },
        stdio: 'ignore',
      });
    }
  }
}
