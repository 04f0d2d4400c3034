// notes-api: a stagecoach example using both resources.
//   POST /notes {"text": "..."} stores a note (PostgreSQL) and counts it (Redis)
//   GET /notes lists notes; GET /health answers 200 only when both PostgreSQL and Redis answer.
// Reads PORT, DATABASE_URL and REDIS_URL, which stagecoach's manage.sh provides.
import http from 'node:http';
import pg from 'pg';
import Redis from 'ioredis';

const port = Number(process.env.PORT ?? 3000);
for (const name of ['DATABASE_URL', 'REDIS_URL']) {
  if (!process.env[name]) {
    console.error(`notes-api: ${name} is not set; declare the resource in scenario.json`);
    process.exit(1);
  }
}

const db = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 5 });
// Fail fast instead of queueing commands while Redis is away, so /health tells the truth.
const redis = new Redis(process.env.REDIS_URL, {
  maxRetriesPerRequest: 1,
  enableOfflineQueue: false,
  commandTimeout: 2000,
});
db.on('error', (err) => console.error('notes-api: postgres pool error:', err.message));
redis.on('error', (err) => console.error('notes-api: redis error:', err.message));

const COUNTER = 'notes:created';
const MAX_BODY = 64 * 1024;

/** Sends a JSON response. */
function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** Reads a JSON request body (at most MAX_BODY bytes). */
async function readJson(req) {
  let size = 0;
  const chunks = [];
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY) {
      throw Object.assign(new Error('body too large'), { status: 413 });
    }
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw Object.assign(new Error('body is not valid JSON'), { status: 400 });
  }
}

/** Resolves to true when the promise settles successfully within ms. */
async function answers(promise, ms = 2000) {
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

async function health(res) {
  const [dbOk, redisOk] = await Promise.all([answers(db.query('SELECT 1')), answers(redis.ping())]);
  send(res, dbOk && redisOk ? 200 : 503, { ok: dbOk && redisOk, postgres: dbOk, redis: redisOk });
}

async function createNote(req, res) {
  const body = await readJson(req);
  const text = typeof body?.text === 'string' ? body.text.trim() : '';
  if (!text || text.length > 10000) {
    return send(res, 400, { error: 'text must be a non-empty string of at most 10000 characters' });
  }
  const { rows } = await db.query(
    'INSERT INTO notes (text) VALUES ($1) RETURNING id, text, created_at',
    [text],
  );
  const created = await redis.incr(COUNTER);
  send(res, 201, { note: rows[0], created_total: created });
}

async function listNotes(res) {
  const { rows } = await db.query('SELECT id, text, created_at FROM notes ORDER BY id');
  const created = Number((await redis.get(COUNTER)) ?? 0);
  send(res, 200, { notes: rows, created_total: created });
}

async function route(req, res) {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (path === '/health' && req.method === 'GET') {
    return health(res);
  }
  if (path === '/notes' && req.method === 'POST') {
    return createNote(req, res);
  }
  if (path === '/notes' && req.method === 'GET') {
    return listNotes(res);
  }
  send(res, 404, { error: 'not found' });
}

const server = http.createServer((req, res) => {
  route(req, res).catch((err) => {
    const status = err.status ?? 500;
    if (status === 500) {
      console.error(`notes-api: ${req.method} ${req.url} failed:`, err);
    }
    if (!res.headersSent) {
      send(res, status, { error: status === 500 ? 'internal error' : err.message });
    }
  });
});

async function main() {
  await db.query(`CREATE TABLE IF NOT EXISTS notes (
    id serial PRIMARY KEY,
    text text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
  )`);
  server.listen(port, () =>
    console.log(`notes-api listening on port ${port} (pid ${process.pid})`),
  );
}

async function shutdown(signal) {
  console.log(`notes-api: ${signal}, closing`);
  setTimeout(() => process.exit(1), 8000).unref();
  server.close();
  server.closeIdleConnections();
  await Promise.allSettled([db.end(), redis.quit()]);
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

main().catch((err) => {
  console.error('notes-api: start-up failed:', err.message);
  process.exit(1);
});
