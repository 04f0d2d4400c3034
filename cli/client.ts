/**
 * The CLI's HTTP client of /api/v1: base URL and token, JSON in and out, and every failure
 * turned into one sentence with an exit code (API errors keep their stable code).
 */
import { CliError, EXIT } from './exit.js';

export interface ClientOptions {
  /** stagecoach's address, e.g. http://localhost:3000 (a trailing /api/v1 is accepted). */
  url: string;
  token?: string;
}

/** The API's error body. */
interface ApiErrorBody {
  error?: { code?: string; message?: string; details?: { issues?: unknown } };
}

/** `http://host:3000/api/v1/` → `http://host:3000`; refuses what is not an http(s) URL. */
export function normalizeBaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(`"${raw}" is not a URL (expected e.g. http://localhost:3000)`, EXIT.input);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliError(`"${raw}" is not an http:// or https:// URL`, EXIT.input);
  }
  return url.href.replace(/\/+$/, '').replace(/\/api\/v1$/, '');
}

/** Why fetch failed, in words: undici hides the system error in `cause`. */
export function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? (err as { code?: string }).code;
  const words: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host name lookup failed',
    ECONNRESET: 'connection reset',
    ETIMEDOUT: 'connection timed out',
    EHOSTUNREACH: 'host unreachable',
  };
  if (code && words[code]) {
    return `${words[code]} (${code})`;
  }
  return cause?.message ?? (err as Error).message ?? String(err);
}

/** Lists a 422's issues as `path: message` lines. */
function issueLines(details: { issues?: unknown } | undefined): string {
  const issues = Array.isArray(details?.issues) ? details.issues : [];
  return issues
    .map((i: { path?: unknown; message?: unknown }) => {
      const where = Array.isArray(i.path) ? i.path.join('.') : String(i.path ?? '');
      return `\n  - ${where ? `${where}: ` : ''}${String(i.message ?? '')}`;
    })
    .join('');
}

/** The exit code of an API error status. */
const exitOf = (status: number) =>
  status === 400 || status === 422 ? EXIT.input : status >= 500 ? EXIT.unreachable : EXIT.refused;

export class StagecoachClient {
  readonly baseUrl: string;

  constructor(private readonly opts: ClientOptions) {
    this.baseUrl = normalizeBaseUrl(opts.url);
  }

  /** Headers of every request: the token, and JSON for bodies. */
  headers(extra: Record<string, string> = {}): Record<string, string> {
    return {
      ...(this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {}),
      ...extra,
    };
  }

  /** Sends a request to `/api/v1<path>`; a non-2xx answer throws a CliError sentence. */
  async raw(method: string, path: string, init: RequestInit = {}): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}/api/v1${path}`, { method, ...init });
    } catch (err) {
      if ((err as Error).name === 'AbortError') {
        throw err;
      }
      throw new CliError(
        `cannot reach stagecoach at ${this.baseUrl}: ${networkReason(err)}; is it running, and are --url / STAGECOACH_URL right?`,
        EXIT.unreachable,
      );
    }
    if (!res.ok) {
      throw await this.failure(res);
    }
    return res;
  }

  /** A JSON request: POSTs always send a JSON body (the API requires it, even an empty one). */
  async json<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<T> {
    const send = method !== 'GET' && method !== 'DELETE';
    const res = await this.raw(method, path, {
      headers: this.headers(send ? { 'content-type': 'application/json' } : {}),
      body: send ? JSON.stringify(body ?? {}) : undefined,
    });
    if (res.status === 204) {
      return {} as T;
    }
    const text = await res.text();
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(
        `${this.baseUrl} answered ${method} ${path} with something that is not JSON; is it stagecoach's address?`,
        EXIT.unreachable,
      );
    }
  }

  /** Turns an error answer into a sentence naming the API's code. */
  private async failure(res: Response): Promise<CliError> {
    const text = await res.text().catch(() => '');
    let body: ApiErrorBody = {};
    try {
      body = JSON.parse(text) as ApiErrorBody;
    } catch {
      // not stagecoach's error shape: a proxy, or another server on that port
    }
    const e = body.error;
    if (!e?.code) {
      return new CliError(
        `${this.baseUrl} answered HTTP ${res.status} ${res.statusText} without a stagecoach error; is it stagecoach's address?`,
        EXIT.unreachable,
      );
    }
    const retry = res.headers.get('retry-after');
    const hint = retry ? ` (try again in ${retry} s)` : '';
    const verb = res.status >= 500 ? 'the API could not answer' : 'the API refused';
    return new CliError(
      `${verb}: ${e.message ?? 'no message'} (${e.code}, HTTP ${res.status})${hint}${issueLines(e.details)}`,
      exitOf(res.status),
      e.code,
    );
  }
}
