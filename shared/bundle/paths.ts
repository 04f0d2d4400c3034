/** Path containment checks shared by the scenario loader and the file walker. */
import path from 'node:path';

/** True when `candidate` is `root` itself or lies below it (both absolute, already resolved). */
export function isWithin(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (!rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel));
}

/** True when `candidate` lies strictly below `root` (not `root` itself). */
export function isStrictlyWithin(root: string, candidate: string): boolean {
  return isWithin(root, candidate) && path.relative(root, candidate) !== '';
}
