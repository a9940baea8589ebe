// Runs the built console with Next's own production server (`next start`), in this process, so the pid
// a supervisor holds is the server. PORT (default 3001) and HOST (default 0.0.0.0) choose where it
// listens. Used by the Docker image; `scripts/start.mjs` and the tests run the same `next start`.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
process.chdir(here);
process.env.NEXT_TELEMETRY_DISABLED ??= '1';
const port = process.env.PORT || '3001';
const host = process.env.HOST || '0.0.0.0';
process.argv = [process.argv[0], 'next', 'start', here, '--port', port, '--hostname', host];
const require = createRequire(import.meta.url);
require('next/dist/bin/next');
