/**
 * DNS rebinding defence: a page on an attacker's domain that resolves to this machine reaches
 * the API with the attacker's name in `Host`. Only names the API is known by are answered.
 */
import { networkInterfaces } from 'node:os';
import type { RequestHandler } from 'express';
import type { Config } from '../shared/config.js';

/** Paths answered whatever the Host: probes by address (containers, load balancers) reveal nothing. */
export const HOST_EXEMPT: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

const LOOPBACK = ['localhost', '127.0.0.1', '::1'];
const WILDCARD = new Set(['0.0.0.0', '::']);

/**
 * The host name of a Host header value or an ALLOWED_HOSTS entry, lower-cased, without port,
 * brackets or a trailing dot; undefined when it is not a well-formed host[:port].
 */
export function hostnameOf(value: string | undefined): string | undefined {
  const v = value?.trim().toLowerCase();
  if (!v) {
    return undefined;
  }
  let name: string | undefined;
  if (v.startsWith('[')) {
    name = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(v)?.[1];
  } else if (/^[0-9a-f:]+:[0-9a-f:.]*$/.test(v) && v.split(':').length > 2) {
    name = v; // a bare IPv6 address (an ALLOWED_HOSTS entry; never valid as a Host header)
  } else {
    name = /^([a-z0-9._-]+)(?::\d{1,5})?$/.exec(v)?.[1];
  }
  return name?.replace(/\.$/, '') || undefined;
}

/** The addresses of this machine's interfaces (what a wildcard bind answers on). */
function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .map((i) => i?.address.toLowerCase().replace(/%.*$/, ''))
    .filter((a): a is string => Boolean(a));
}

/** Every host name the API answers to under `config`. */
export function allowedHosts(config: Pick<Config, 'HOST' | 'ALLOWED_HOSTS'>): Set<string> {
  const names = [...LOOPBACK, ...config.ALLOWED_HOSTS];
  names.push(...(WILDCARD.has(config.HOST) ? interfaceAddresses() : [config.HOST]));
  return new Set(names.map((n) => hostnameOf(n)).filter((n): n is string => Boolean(n)));
}

/** 421 `host_not_allowed` for a Host the API is not known by, before anything else runs. */
export function hostCheck(config: Pick<Config, 'HOST' | 'ALLOWED_HOSTS'>): RequestHandler {
  const allowed = allowedHosts(config);
  return (req, res, next) => {
    const name = hostnameOf(req.headers.host);
    if ((name && allowed.has(name)) || HOST_EXEMPT.has(req.path)) {
      next();
      return;
    }
    res.status(421).json({
      error: {
        code: 'host_not_allowed',
        message: 'this API does not answer to that Host; add the name to ALLOWED_HOSTS',
      },
    });
  };
}
