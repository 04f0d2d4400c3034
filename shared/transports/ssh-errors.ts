/** Turns ssh2's connection errors into TransportErrors that say what happened and how to fix it. */
import { TransportError } from './errors.js';

/** Where a connection goes and how it authenticates (no secrets). */
export interface SshTarget {
  host: string;
  port: number;
  user: string;
  keyPath?: string;
  agentSocket?: string;
}

/** `host:port`, with an IPv6 host in brackets. */
export function hostPort(t: SshTarget): string {
  return `${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;
}

/** What a host verifier saw during a failed connect. */
export interface HostKeyCheck {
  expected?: string;
  presented?: string;
}

const UNREACHABLE_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ETIMEDOUT: 'connection timed out',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed (temporary DNS failure)',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset by the server',
};

/** The TransportError for a failed connect; `err` is the first error ssh2 emitted. */
export function connectError(err: unknown, t: SshTarget, keys: HostKeyCheck): TransportError {
  const where = `${t.user}@${hostPort(t)}`;
  const e = err instanceof Error ? (err as Error & { level?: string; code?: string }) : undefined;
  const options = { cause: err };
  if (
    keys.expected !== undefined &&
    keys.presented !== undefined &&
    keys.expected !== keys.presented
  ) {
    return new TransportError(
      'host_key_mismatch',
      `host key of ${hostPort(t)} does not match: expected ${keys.expected}, presented ${keys.presented}`,
      'If the server was reinstalled or its key rotated on purpose, record the new fingerprint ' +
        '(`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the server); otherwise do not ' +
        'connect: someone may be intercepting the connection.',
      options,
    );
  }
  if (e?.level === 'client-authentication' || e?.level === 'agent') {
    const how = t.keyPath !== undefined ? `the key ${t.keyPath}` : `the keys of the ssh-agent`;
    return new TransportError(
      'ssh_auth_failed',
      `${where} rejected ${how}${e.level === 'agent' ? ` (agent: ${e.message})` : ''}`,
      `Add the matching public key to ~${t.user}/.ssh/authorized_keys on the server, ` +
        'or check the user name and the key configured for this target.',
      options,
    );
  }
  const reason =
    (e?.code !== undefined ? UNREACHABLE_CODES[e.code] : undefined) ??
    (e?.level === 'client-timeout' ? 'timed out waiting for the SSH handshake' : undefined) ??
    e?.message ??
    String(err);
  return new TransportError(
    'ssh_unreachable',
    `cannot reach ${where}: ${reason}`,
    `Check that the host name resolves, that sshd runs there and listens on port ${t.port}, ` +
      'and that no firewall blocks it.',
    options,
  );
}

/** The TransportError for a connection that dropped while a command or transfer ran. */
export function connectionLost(t: SshTarget, during: string, cause?: unknown): TransportError {
  return new TransportError(
    'ssh_connection_lost',
    `connection to ${t.user}@${hostPort(t)} lost during ${during}`,
    'The server went away or the network dropped; the step can be retried once the host is back.',
    { cause },
  );
}
