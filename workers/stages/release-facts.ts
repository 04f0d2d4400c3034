/**
 * What the deploy stage needs to know of the target before it starts, read in one command: is
 * the release set up, its scenario built, does it declare resources, which release serves, how
 * many releases the target keeps. The worker decides from these which steps have work to do.
 */
import type { Transport } from '../../shared/transports/types.js';
import { targetPaths } from '../remote.js';

export interface ReleaseFacts {
  setUp: boolean;
  built: boolean;
  /** The release's config declares resources (STAGECOACH_RESOURCES is not empty). */
  hasResources: boolean;
  /** The release `current` points at, when promote marked it (it passed its health checks). */
  serving: string | null;
  /** Set-up releases on the target. */
  releases: number;
}

const SHA256 = /^[0-9a-f]{64}$/;

// Prints one `key value` line per fact; the release dir is $1. Reads files only.
const SCRIPT = `
r=$1
test -f "$r/.setup-ok" && echo setup 1
test -f "$r/.build-ok" && echo built 1
grep -q "^STAGECOACH_RESOURCES=''\\$" "$r/config/stagecoach.env" 2>/dev/null || echo resources 1
l=$(readlink -- current 2>/dev/null) && test -f "$l/.promoted" && echo serving "\${l##*/}"
n=0; for d in releases/*/.setup-ok; do test -e "$d" && n=$((n + 1)); done; echo releases $n
exit 0`;

/** Reads the facts of release `sha256` on the target. */
export async function releaseFacts(t: Transport, sha256: string): Promise<ReleaseFacts> {
  const r = await t.exec(['sh', '-c', SCRIPT, 'facts', targetPaths(sha256).release]);
  const facts = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const [key, value = ''] = line.trim().split(' ');
    if (key) {
      facts.set(key, value);
    }
  }
  const serving = facts.get('serving') ?? '';
  return {
    setUp: r.code === 0 && facts.get('setup') === '1',
    built: facts.get('built') === '1',
    hasResources: facts.get('resources') === '1',
    serving: SHA256.test(serving) ? serving : null,
    releases: Number(facts.get('releases') ?? 0),
  };
}
