import { errorCode } from '../transport.js';

/** Exit codes a script can branch on (documented in the SDK README and `snaptalker --help`). */
export const EXIT = {
  OK: 0,
  /** Bad arguments or options (also commander's own usage errors). */
  USAGE: 1,
  /** The server answered with an error (auth, validation, conflict, rate limit, not found …). */
  SERVER: 2,
  /** The server could not be reached. */
  UNREACHABLE: 3,
  /** This profile lacks what the command needs (not registered, not signed in, no keys). */
  STATE: 4,
  /** `receive`: at least one message could not be decrypted (it stays queued). */
  DECRYPT: 5,
} as const;

export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

const NETWORK = /fetch failed|ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ECONNRESET|socket hang up|Unable to connect/i;

function causeChain(e: unknown): string {
  const parts: string[] = [];
  for (let c: unknown = e, i = 0; c && i < 5; c = (c as { cause?: unknown }).cause, i++) {
    const x = c as { message?: unknown; code?: unknown };
    parts.push(`${String(x.message ?? '')} ${String(x.code ?? '')}`);
  }
  return parts.join(' ');
}

/** Turns any failure into a one-line message and an exit code. */
export function toCliError(e: unknown, server: string): CliError {
  if (e instanceof CliError) return e;
  const code = errorCode(e);
  if (code) {
    const hint = HINTS[code];
    return new CliError(EXIT.SERVER, `${code}: ${(e as Error).message}${hint ? `\n${hint}` : ''}`);
  }
  if (NETWORK.test(causeChain(e))) return new CliError(EXIT.UNREACHABLE, `cannot reach the server at ${server}`);
  return new CliError(EXIT.SERVER, e instanceof Error ? e.message : String(e));
}

const HINTS: Record<string, string> = {
  UNAUTHORIZED: 'this device is signed out or unlinked: run `snaptalker login`',
  TOKEN_REUSED: 'this device’s refresh token was already used (a copied profile?): run `snaptalker login`',
  NOT_VERIFIED: 'the account is not verified yet: run `snaptalker verify <code>`',
  RATE_LIMITED: 'slow down and try again later',
};
