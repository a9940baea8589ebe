// Placeholder for the admin console until its own issue lands (Next.js + next-auth): a page saying so
// and a /health endpoint, so the image, compose service and Kubernetes Deployment are real today.
import { createServer } from 'node:http';

const port = Number(process.env.PORT || 3001);
const page = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>SnapTalker admin</title></head>
<body><h1>SnapTalker admin console</h1><p>Not available yet.</p></body></html>`;

const server = createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    return;
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
});
server.listen(port, process.env.HOST || '0.0.0.0', () => {
  process.stdout.write(`${JSON.stringify({ msg: 'admin console placeholder listening', port })}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
