// Container HEALTHCHECK: GET /health on this node's own HTTP port (HTTPS when TLS_CERT_FILE is set;
// the certificate names the public host, not 127.0.0.1, so it is not verified here). Exit 0 = healthy.
import { request as http } from 'node:http';
import { request as https } from 'node:https';

const tls = Boolean(process.env.TLS_CERT_FILE);
const port = process.env.PORT || '3000';
const req = (tls ? https : http)(
  { host: '127.0.0.1', port, path: '/health', timeout: 4000, rejectUnauthorized: false },
  (res) => {
    res.resume();
    process.exit(res.statusCode === 200 ? 0 : 1);
  },
);
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', () => process.exit(1));
req.end();
