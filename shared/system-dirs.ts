/** Where a target's workdir may not be: the same rule in the API and on the target. */
import path from 'node:path';

/**
 * Directories a workdir may not be: the root, and top-level or system directories whose
 * contents stagecoach would mix its own with. Under SYSTEM_TREES no workdir may live at all.
 * The target applies the same rule to the resolved workdir (lib/system-dirs.sh, for manage.sh and preflight.sh).
 */
export const SYSTEM_DIRS: readonly string[] = [
  '/',
  '/home',
  '/media',
  '/mnt',
  '/opt',
  '/srv',
  '/tmp',
  '/var',
  '/var/backups',
  '/var/cache',
  '/var/lib',
  '/var/local',
  '/var/log',
  '/var/mail',
  '/var/opt',
  '/var/spool',
  '/var/tmp',
];
/** Trees no workdir may be in: the OS, its configuration and pseudo file systems. */
export const SYSTEM_TREES: readonly string[] = [
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/proc',
  '/run',
  '/sbin',
  '/sys',
  '/usr',
];

/** Why the absolute path `abs` may not be a workdir, or undefined when it may. */
export function systemDirReason(abs: string): string | undefined {
  const p = path.posix.normalize(abs).replace(/(.)\/+$/, '$1');
  if (SYSTEM_DIRS.includes(p)) {
    return `${p} is a system directory; use a directory of its own, like /srv/stagecoach`;
  }
  const tree = SYSTEM_TREES.find((t) => p === t || p.startsWith(`${t}/`));
  return tree === undefined
    ? undefined
    : `may not be in ${tree}; use a directory like /srv/stagecoach`;
}
