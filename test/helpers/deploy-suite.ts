/**
 * The set-up most pipeline suites share: a copy of the examples, a harness with real workers,
 * the API on a real port, and at the end every deployment the suite tracked stopped, then it
 * all closed. `useDeploySuite()` registers the before/after hooks on the calling describe.
 */
import { rm } from 'node:fs/promises';
import { createHarness, type BackendKind, type Harness } from './harness.js';
import { serve, type ApiClient } from './http.js';
import { startRemoteHost, type RemoteHost } from './remote-host.js';
import { copyExample } from './scenario-dir.js';

export interface DeploySuiteOptions {
  /** The example scenario to copy (default hello-web). */
  example?: string;
  backend?: BackendKind;
  /** Extra settings for the harness (SCENARIOS_DIR is the copy's). */
  env?: Record<string, string>;
  /** Changes the copy of the examples before the harness starts. */
  prepare?: (scenarios: string) => Promise<void>;
}

/** What the hooks fill in; read it inside tests, not at describe time. */
export interface DeploySuite {
  h: Harness;
  api: ApiClient;
  scenarios: string;
  /** Stops `id` (and waits for it) when the suite ends; `stop` is the stop action's body. */
  track(id: string, stop?: { stop_resources?: boolean }): void;
  /** The suite's throw-away SSH host, started on first use and closed at the end. */
  remoteHost(): Promise<RemoteHost>;
}

/** Registers the suite's before/after hooks and returns the handle they fill in. */
export function useDeploySuite(opts: DeploySuiteOptions = {}): DeploySuite {
  const tracked: [string, object][] = [];
  let host: RemoteHost | undefined;
  const suite = {
    track: (id: string, stop = {}) => void tracked.push([id, stop]),
    remoteHost: async () => (host ??= await startRemoteHost()),
  } as DeploySuite;

  before(async () => {
    suite.scenarios = await copyExample(opts.example ?? 'hello-web');
    await opts.prepare?.(suite.scenarios);
    suite.h = await createHarness(opts.backend ?? 'redis', {
      SCENARIOS_DIR: suite.scenarios,
      ...opts.env,
    });
    suite.h.startWorkers();
    suite.api = await serve(suite.h.app);
  });

  after(async () => {
    for (const [id, stop] of tracked) {
      await suite.api.call('POST', `/api/v1/deployments/${id}/stop`, stop);
      await suite.api.waitFor(id, ['stopped', 'failed'], 30_000).catch(() => undefined);
    }
    await suite.api?.close();
    await suite.h?.close();
    await host?.close();
    await rm(suite.scenarios ?? '/nonexistent', { recursive: true, force: true });
  });
  return suite;
}
