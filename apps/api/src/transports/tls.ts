import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type RequestListener, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { ServerCredentials } from '@grpc/grpc-js';

/** TLS 1.3 only, on every listener that terminates TLS itself (the seed's promise). */
export const TLS_MIN_VERSION = 'TLSv1.3' as const;

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/**
 * Reads the PEM files (the certificate file may carry the chain) into secure-context options. They
 * are parsed here once, so a broken or mismatched pair fails this call instead of a listener (grpc-js
 * would otherwise drop every new connection after a bad reload).
 */
export async function readTls(files: TlsFiles): Promise<SecureContextOptions> {
  const [cert, key] = await Promise.all([readFile(files.certFile), readFile(files.keyFile)]);
  const options = { cert, key, minVersion: TLS_MIN_VERSION };
  createSecureContext(options);
  return options;
}

/**
 * The HTTP listener: plain HTTP, or HTTPS (so WSS) with TLS 1.3 only. Returned as the type Fastify
 * expects; upgrades (WebSocket) and idle-connection handling work the same on both.
 */
export function httpServerFactory(tls: SecureContextOptions | null, timeouts: HttpTimeouts) {
  return (handler: RequestListener): HttpServer => {
    // Fastify applies its own timeout options only to servers it creates itself: with a factory,
    // the slow-client limits are set here, on both kinds of listener.
    const options = {
      requestTimeout: timeouts.requestTimeoutMs,
      headersTimeout: Math.min(timeouts.headersTimeoutMs, timeouts.requestTimeoutMs),
      keepAliveTimeout: timeouts.keepAliveTimeoutMs,
      connectionsCheckingInterval: 1_000,
    };
    const server = tls
      ? (createHttpsServer({ ...tls, ...options }, handler) as unknown as HttpServer)
      : createHttpServer(options, handler);
    server.setTimeout(timeouts.keepAliveTimeoutMs + 5_000);
    return server;
  };
}

export interface HttpTimeouts {
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

/** Swaps the certificate of a running HTTPS listener; open connections keep theirs. */
export function reloadHttpsServer(server: HttpServer, tls: SecureContextOptions): void {
  (server as unknown as HttpsServer).setSecureContext(tls);
}

/**
 * gRPC server credentials with TLS 1.3 only. grpc-js's own `createSsl` cannot take a protocol
 * version, but it passes a credential's options straight to `http2.createSecureServer` (and later
 * updates to `setSecureContext`), so a credential of our own can: `minVersion` goes in both.
 */
export class Tls13ServerCredentials extends ServerCredentials {
  constructor(tls: SecureContextOptions) {
    super({ minVersion: TLS_MIN_VERSION }, tls);
  }

  override _equals(other: ServerCredentials): boolean {
    return other === this;
  }

  /** New certificate for new handshakes (SIGHUP); grpc-js applies it to the bound listener. */
  reload(tls: SecureContextOptions): void {
    this.updateSecureContextOptions(tls);
  }
}
