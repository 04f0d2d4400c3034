/** Health check 3: a request through Caddy, with the right SNI, verifying the certificate. */
import http from 'node:http';
import https from 'node:https';

export interface EdgeProbe {
  /** Where the target is reachable from the worker. */
  host: string;
  port: number;
  /** Sent as SNI and Host header. */
  domain: string;
  path: string;
  /** Plain HTTP when false (edge TLS off). */
  tls: boolean;
  /** Extra trusted roots (Caddy's internal CA); public roots otherwise. */
  ca?: string;
}

export interface ProbeResult {
  ok: boolean;
  status?: number;
  error?: string;
}

/** One request; 2xx is healthy; certificate errors are reported, never ignored. */
export function probeOnce(p: EdgeProbe, timeoutMs = 5000): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const options = {
      host: p.host,
      port: p.port,
      path: p.path,
      method: 'GET',
      headers: { host: p.domain },
      timeout: timeoutMs,
      ...(p.tls ? { servername: p.domain, ca: p.ca, rejectUnauthorized: true } : {}),
    };
    const req = (p.tls ? https : http).request(options, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      resolve({ ok: status >= 200 && status < 300, status });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err: Error & { code?: string }) =>
      resolve({ ok: false, error: err.code ? `${err.code}: ${err.message}` : err.message }),
    );
    req.end();
  });
}

/** Repeats the probe until it passes or `timeoutS` runs out; returns the last result. */
export async function probeUntil(
  p: EdgeProbe,
  timeoutS: number,
  signal?: AbortSignal,
): Promise<ProbeResult & { attempts: number }> {
  const deadline = Date.now() + timeoutS * 1000;
  let attempts = 0;
  for (;;) {
    attempts++;
    const r = await probeOnce(p, Math.min(5000, Math.max(500, deadline - Date.now())));
    if (r.ok || Date.now() >= deadline || signal?.aborted) {
      return { ...r, attempts };
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
