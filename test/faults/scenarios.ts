/** Scenarios and manifests for the fault suite (hello-web with a slow or marked step). */
import { randomBytes, randomInt } from 'node:crypto';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort } from '../helpers/ports.js';

export interface ScenarioSpec {
  /** The web service's `build` command (runs in the deploy stage, step `build`). */
  build?: string;
  /** The web service's `start` command (default `node server.js`). */
  start?: string;
  /** Extra files (relative path → content) in the scenario directory. */
  files?: Record<string, string | Buffer>;
}

/** Writes `<scenariosDir>/examples/<name>`: hello-web's server with `spec`; returns its path. */
export async function writeScenario(
  scenariosDir: string,
  name: string,
  spec: ScenarioSpec = {},
): Promise<string> {
  const rel = `examples/${name}`;
  const dir = path.join(scenariosDir, rel);
  await mkdir(dir, { recursive: true });
  await copyFile(path.join(process.cwd(), 'examples/hello-web/server.js'), `${dir}/server.js`);
  await copyFile(
    path.join(process.cwd(), 'examples/hello-web/package.json'),
    `${dir}/package.json`,
  );
  const web = {
    name: 'web',
    ...(spec.build ? { build: spec.build } : {}),
    start: spec.start ?? 'node server.js',
    port: 'web',
    health: '/health',
  };
  const scenario = { name, services: [web], resources: [] };
  await writeFile(`${dir}/scenario.json`, `${JSON.stringify(scenario, null, 2)}\n`);
  for (const [file, content] of Object.entries(spec.files ?? {})) {
    await writeFile(path.join(dir, file), content);
  }
  return rel;
}

/** A start command that appends one line to `marker` each time the service is started. */
export const markedStart = (marker: string): string =>
  `echo started >> ${marker} && exec node server.js`;

/**
 * A build command that sleeps `arg` seconds the first time only (a flag file under `flagDir`):
 * a stage taken over by another worker does not pay the sleep twice.
 */
export function sleepOnce(flagDir: string, arg: string): string {
  const flag = path.join(flagDir, `slept-${randomBytes(4).toString('hex')}`);
  return `test -e ${flag} || { touch ${flag}; sleep ${arg}; }`;
}

/** `seconds` with unique decimals (e.g. `5.482913`): `pgrep -f "sleep <it>"` finds that sleep. */
export const sleepArg = (seconds: number): string =>
  `${seconds}.${String(randomInt(100_000, 1_000_000))}`;

const handedOut = new Set<number>();

/** A free port not handed out before in this process (services of earlier tests may be down). */
async function uniquePort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/** A manifest for `scenarioPath` on a fresh local workdir and a free port. */
export async function manifestFor(
  scenarioPath = 'examples/hello-web',
  extra: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  return {
    version: 1,
    scenario: { path: scenarioPath },
    target: { type: 'local', workdir: `targets/t-${randomBytes(5).toString('hex')}` },
    ports: { web: await uniquePort() },
    env: {},
    health: { timeout_s: 20 },
    ...extra,
  };
}
