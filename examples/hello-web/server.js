// hello-web: the smallest stagecoach scenario. Node built-ins only.
//   GET /health -> HEALTH_STATUS (default 200) with {"ok":true}; GET / -> a greeting.
import http from 'node:http';

const port = Number(process.env.PORT ?? 3000);
const greeting = process.env.GREETING ?? 'hello';
const healthStatus = Number(process.env.HEALTH_STATUS ?? 200);

const server = http.createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  console.log(`${new Date().toISOString()} ${req.method} ${req.url}`);
  if (path === '/health') {
    res.writeHead(healthStatus, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: healthStatus >= 200 && healthStatus < 300 }));
  } else if (path === '/') {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`${greeting} from hello-web\n`);
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  }
});

server.listen(port, () => {
  console.log(`hello-web listening on port ${port} (pid ${process.pid})`);
});

function shutdown(signal) {
  console.log(`hello-web: ${signal}, closing`);
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  // Keep-alive clients may hold the server open; don't outstay the stop grace period.
  setTimeout(() => process.exit(0), 5000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
