/** A small JSON client for a cluster's API, with bounded waits (a hung API fails the test). */

/** What a call answered; `ms` is how long it took. */
export interface Reply {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  ms: number;
}

/** A deployment as GET /deployments/:id returns it (the fields the suite reads). */
export interface DeploymentView {
  id: string;
  status: string;
  run_active: boolean;
  run_kind?: string | null;
  run_id: string | null;
  error_code: string | null;
  error_step: string | null;
  error_message?: string | null;
  progress: { stage: string; step: string; percent: number } | null;
}

/** One history event. */
export interface HistoryEvent {
  run_id: string | null;
  kind?: string;
  from_status: string | null;
  to_status: string;
  stage: string | null;
  message: string | null;
  actor: string;
  created_at: string;
}

export interface FaultApi {
  url: string;
  /** One request; rejects when the API cannot be reached or does not answer in `timeoutMs`. */
  call(method: string, path: string, body?: unknown, timeoutMs?: number): Promise<Reply>;
  /** GET /deployments/:id (undefined while the API is unreachable or answers non-200). */
  get(id: string): Promise<DeploymentView | undefined>;
  history(id: string): Promise<HistoryEvent[]>;
  /** POST /deployments (with `execute` by default); throws unless 201. */
  create(manifest: unknown, execute?: boolean): Promise<{ id: string; runId?: string }>;
  /** Polls until status ∈ `statuses` and `run_active` is false; the error shows `diagnose()`. */
  waitFor(id: string, statuses: string[], timeoutMs?: number): Promise<DeploymentView>;
}

/** A client for `url`; `diagnose` adds process log tails to timeout messages. */
export function createClient(url: string, diagnose: () => string): FaultApi {
  const api: FaultApi = {
    url,
    async call(method, path, body, timeoutMs = 15_000) {
      const started = Date.now();
      const res = await fetch(`${url}/api/v1${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // not JSON: keep the text for the assertion message
      }
      return { status: res.status, body: parsed, ms: Date.now() - started };
    },
    async get(id) {
      const r = await api.call('GET', `/deployments/${id}`).catch(() => undefined);
      return r?.status === 200 ? (r.body.deployment as DeploymentView) : undefined;
    },
    async history(id) {
      const r = await api.call('GET', `/deployments/${id}/history`);
      if (r.status !== 200) {
        throw new Error(`GET history of ${id}: ${r.status} ${JSON.stringify(r.body)}`);
      }
      return r.body.events as HistoryEvent[];
    },
    async create(manifest, execute = true) {
      const r = await api.call('POST', '/deployments', { manifest, execute });
      if (r.status !== 201) {
        throw new Error(`POST /deployments: ${r.status} ${JSON.stringify(r.body)}`);
      }
      return { id: r.body.deployment.id, runId: r.body.run_id };
    },
    async waitFor(id, statuses, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let last: DeploymentView | undefined;
      while (Date.now() < deadline) {
        const d = await api.get(id);
        last = d ?? last;
        if (d && statuses.includes(d.status) && d.run_active === false) {
          return d;
        }
        await new Promise((r) => setTimeout(r, 150));
      }
      const events = await api.history(id).catch((err: Error) => err.message);
      throw new Error(
        `deployment ${id} did not reach ${statuses.join('|')} with no active run within ` +
          `${timeoutMs} ms.\nlast: ${JSON.stringify(last)}\nhistory: ${JSON.stringify(events)}\n` +
          diagnose(),
      );
    },
  };
  return api;
}
