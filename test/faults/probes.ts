/** Looking at a running cluster from outside: which worker runs a step, what is still alive. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Cluster } from './cluster.js';
import { ancestorAmong, isRunning, pgrep, pidsWithCwdUnder, until, type Proc } from './procs.js';

/** The live worker that is an ancestor of one of `pids()` (polled until one shows up). */
async function holderOf(c: Cluster, pids: () => number[], what: string, timeoutMs: number) {
  return until(
    () => {
      const workers = c.workers.filter(isRunning);
      for (const pid of pids()) {
        const owner = ancestorAmong(
          pid,
          workers.map((w) => w.pid),
        );
        if (owner) {
          return workers.find((w) => w.pid === owner);
        }
      }
      return undefined;
    },
    timeoutMs,
    () => `no worker runs ${what}\n${c.logs()}`,
    20,
  ) as Promise<Proc>;
}

/** The worker whose step runs `sleep <arg>` (see sleepArg). */
export function holderOfSleep(c: Cluster, arg: string, timeoutMs = 30_000): Promise<Proc> {
  return holderOf(c, () => pgrep(`sleep ${arg}`), `sleep ${arg}`, timeoutMs);
}

/** The worker running `command` (its /proc comm, e.g. `tar`) in the local target `workdir`. */
export function holderOfCommand(
  c: Cluster,
  workdir: string,
  command: string,
  timeoutMs = 30_000,
): Promise<Proc> {
  const dir = path.join(c.dataDir, workdir);
  const pids = () => pidsWithCwdUnder(dir).filter((pid) => commOf(pid) === command);
  return holderOf(c, pids, `${command} in ${dir}`, timeoutMs);
}

/** The command name of a process ('' when it is gone). */
function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Waits until no process runs `sleep <arg>`; throws with what is left after `timeoutMs`. */
export async function expectSleepGone(arg: string, timeoutMs = 2_000): Promise<void> {
  await until(
    () => pgrep(`sleep ${arg}`).length === 0,
    timeoutMs,
    () => `sleep ${arg} still runs: pids ${pgrep(`sleep ${arg}`).join(', ')}`,
    50,
  );
}

/** Lines in a marker file (0 when it does not exist). */
export function markerLines(file: string): number {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

/** The local target workdir of a manifest made by manifestFor. */
export const workdirOf = (manifest: Record<string, unknown>): string =>
  (manifest.target as { workdir: string }).workdir;
