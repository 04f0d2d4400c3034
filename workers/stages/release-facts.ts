/**
 * What the deploy stage needs to know of the target before it starts, read in one command: is
 * the release set up, its scenario built, does it declare resources or build commands, which
 * release serves, how many releases the target keeps, and (when asked) the state of each of its
 * serving instances.
 * The worker decides from these which steps have work to do (./unchanged.ts for the instances).
 */
import type { Transport } from '../../shared/transports/types.js';
import { targetPaths } from '../remote.js';

/**
 * One service's serving instance, as its files under state/run and /proc say (no health check):
 * `up` (its supervisor and service run, the service never exited), `unit` (a systemd unit: the
 * health check asks systemd), `pending` (a start that was not promoted), `stopped` (no pid
 * file), `gone` (its supervisor or service is dead), `other` (it runs another release),
 * `restarted` (the service exited since its supervisor started it), `backoff`, `down`,
 * `unsupervised` (no supervision state).
 */
export interface InstanceFact {
  name: string;
  record: string;
  state: string;
  pid: number | null;
  port: number | null;
}

export interface ReleaseFacts {
  setUp: boolean;
  built: boolean;
  /** A service of the release has a build command (SERVICE_BUILD is not empty). */
  builds: boolean;
  /** The release's config declares resources (STAGECOACH_RESOURCES is not empty). */
  hasResources: boolean;
  /** The release `current` points at, when promote marked it (it passed its health checks). */
  serving: string | null;
  /** Set-up releases on the target. */
  releases: number;
  /** Its services' serving instances: asked for (`instances`) and only when it serves. */
  instances: InstanceFact[];
}

const SHA256 = /^[0-9a-f]{64}$/;

// Prints one `key value…` line per fact; the release dir is $1, $2 = 1 asks for the instances.
// Reads files only (POSIX sh, builtins but readlink), so it costs the same on every target.
const SCRIPT = `
r=$1
test -f "$r/.setup-ok" && echo setup 1
test -f "$r/.build-ok" && echo built 1
grep -q "^STAGECOACH_RESOURCES=''\\$" "$r/config/stagecoach.env" 2>/dev/null || echo resources 1
l=$(readlink -- current 2>/dev/null) && test -f "$l/.promoted" && echo serving "\${l##*/}"
n=0; for d in releases/*/.setup-ok; do test -e "$d" && n=$((n + 1)); done; echo releases $n
for f in "$r"/config/services/*.env; do
  while IFS= read -r x; do
    case $x in "SERVICE_BUILD=''" | SERVICE_BUILD=) ;; SERVICE_BUILD=*) echo builds 1 && break 2 ;; esac
  done <"$f"
done 2>/dev/null
test "$2" = 1 && test "\${l##*/}" = "\${r##*/}" || exit 0
set -f
# sets S (InstanceFact state), P (pid), Q (port) of record $1 of service $2; no subshell
st() {
  f=state/run/$1 P=- Q=-
  test -e "state/run/$2.pending" && { S=pending; return; }
  read -r i0 Q i2 2>/dev/null <"$f.info" || Q=-
  test -f "$f.unit" && { S=unit; return; }
  read -r P 2>/dev/null <"$f.pid" || { P=- S=stopped; return; }
  case $i2 in */"$r") ;; *) S=other; return ;; esac
  read -r x 2>/dev/null <"/proc/$P/stat" || { S=gone; return; }
  set -- \${x##*) }
  # a start time of 0: launch_service could not read it (service_pid skips the check too)
  if test "$1" = Z || { test "$i0" != 0 && test "\${20}" != "$i0"; }; then S=gone; return; fi
  # state restarts last_exit … child_pid (lib/supervision.sh)
  read -r S x e x x x x x x h 2>/dev/null <"$f.sup" || { S=unsupervised; return; }
  test "$S" = running || return 0
  if ! kill -0 "$h" 2>/dev/null; then S=gone; elif test "$e" = -; then S=up; else S=restarted; fi
}
v=
while IFS= read -r x; do case $x in STAGECOACH_SERVICES=*) v=\${x#*=} ;; esac; done <"$r/config/stagecoach.env"
v=\${v#\\'}; v=\${v%\\'}
for n in $v; do
  c=$n; read -r x 2>/dev/null <"state/run/$n.serving" && test "$x" = "$n.b" && c=$x
  st "$c" "$n"
  echo instance "$n" "$c" "$S" "$P" "$Q"
done
exit 0`;

/** Reads the facts of release `sha256` on the target; `instances`: its serving instances too. */
export async function releaseFacts(
  t: Transport,
  sha256: string,
  instances = false,
): Promise<ReleaseFacts> {
  const r = await t.exec([
    'sh',
    '-c',
    SCRIPT,
    'facts',
    targetPaths(sha256).release,
    instances ? '1' : '0',
  ]);
  const facts = new Map<string, string>();
  const found: InstanceFact[] = [];
  for (const line of r.stdout.split('\n')) {
    const [key, value = '', ...rest] = line.trim().split(' ');
    if (key === 'instance') {
      found.push(instanceFact(value, rest));
    } else if (key) {
      facts.set(key, value);
    }
  }
  const serving = facts.get('serving') ?? '';
  return {
    setUp: r.code === 0 && facts.get('setup') === '1',
    built: facts.get('built') === '1',
    builds: facts.get('builds') === '1',
    hasResources: facts.get('resources') === '1',
    serving: SHA256.test(serving) ? serving : null,
    releases: Number(facts.get('releases') ?? 0),
    instances: found,
  };
}

const number = (s: string | undefined): number | null =>
  s !== undefined && /^[0-9]{1,10}$/.test(s) ? Number(s) : null;

function instanceFact(name: string, [record = '', state = '', pid, port]: string[]): InstanceFact {
  return { name, record, state: state || 'unknown', pid: number(pid), port: number(port) };
}
