/**
 * The dashboard: two HTML pages (`/`, `/deployments/:id`) and their plain browser modules under
 * `/dashboard/`. They are public like the OpenAPI document: they hold no data, and every read
 * they make goes to /api/v1 with the token the user gives the page.
 */
import { readFileSync } from 'node:fs';
import type { RequestHandler, Response } from 'express';

const ASSETS = new URL('./assets/', import.meta.url);

/** The files the dashboard serves, by URL path; nothing else under /dashboard/ exists. */
const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html' },
  '/dashboard/detail.html': { file: 'detail.html', type: 'text/html' },
  '/dashboard/style.css': { file: 'style.css', type: 'text/css' },
  '/dashboard/common.js': { file: 'common.js', type: 'text/javascript' },
  '/dashboard/list.js': { file: 'list.js', type: 'text/javascript' },
  '/dashboard/detail.js': { file: 'detail.js', type: 'text/javascript' },
  '/dashboard/sections.js': { file: 'sections.js', type: 'text/javascript' },
  '/dashboard/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};

/** A deployment's page; the id is checked by the API the page calls. */
const DETAIL = /^\/deployments\/[A-Za-z0-9-]{1,64}$/;

/**
 * Scripts and styles from this origin only, no inline script or style, no framing, and reads
 * only from this origin (the API): hostile text in a deployment's data cannot become code.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function setHeaders(res: Response, type: string): void {
  res.set({
    'content-type': `${type}; charset=utf-8`,
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    // revalidated on every load (ETag): a new version of stagecoach never meets an old script
    'cache-control': 'no-cache',
  });
}

/**
 * The dashboard's handler: answers GET/HEAD of its pages and assets, passes anything else on.
 * A plain handler, not a Router: these pages are not API operations (the OpenAPI test lists
 * the app's routes).
 */
export function dashboard(): RequestHandler {
  // read once: a missing asset fails at start-up, not on a user's first visit
  const bodies = new Map(
    Object.entries(FILES).map(([url, f]) => [url, readFileSync(new URL(f.file, ASSETS))]),
  );
  return (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      next();
      return;
    }
    const url = DETAIL.test(req.path) ? '/dashboard/detail.html' : req.path;
    const file = FILES[url];
    if (!file) {
      next();
      return;
    }
    setHeaders(res, file.type);
    res.send(bodies.get(url));
  };
}
