// The API package's public surface: start a server in-process (embedded demo, tests) and the
// tRPC router type for typed clients.
export { loadConfig, type Config } from './config/index.js';
export { startServer, type RunningServer } from './server.js';
export type { AppRouter } from './transports/trpc/root.js';
