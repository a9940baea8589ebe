import type { AppRouter } from '@snaptalker/api/trpc';
import { createTRPCClient, httpBatchLink, type TRPCClient, TRPCClientError } from '@trpc/client';

/** The `admin` router's procedures as the console calls them (typed by the API's router itself). */
export type AdminClient = TRPCClient<AppRouter>['admin'];

export const apiUrl = (): string => (process.env.SNAPTALKER_API_URL || 'http://127.0.0.1:3000').replace(/\/+$/, '');

/** A tRPC client for one admin's access token (or none, for login/refresh). Server side only. */
export function adminApi(accessToken?: string): AdminClient {
  const client = createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: `${apiUrl()}/trpc`,
        maxItems: 10,
        headers: () => (accessToken ? { authorization: `Bearer ${accessToken}` } : {}),
      }),
    ],
  });
  return client.admin;
}

export interface ApiFailure {
  /** The contract's error code (UNAUTHORIZED, FORBIDDEN, NOT_FOUND, RATE_LIMITED, …), UNAVAILABLE if unreachable. */
  code: string;
  message: string;
  retryAfter?: number;
}

export function toApiFailure(e: unknown): ApiFailure {
  if (e instanceof TRPCClientError) {
    const data = e.data as
      | { code?: string; retryAfter?: number; details?: { retryAfter?: unknown } }
      | null
      | undefined;
    if (data?.code) {
      const fromDetails = typeof data.details?.retryAfter === 'number' ? data.details.retryAfter : undefined;
      return { code: data.code, message: e.message, retryAfter: data.retryAfter ?? fromDetails };
    }
  }
  return { code: 'UNAVAILABLE', message: 'the API could not be reached' };
}

/** A sentence for an operator, for a failed call. */
export function describeFailure(f: ApiFailure): string {
  switch (f.code) {
    case 'FORBIDDEN':
      return `Forbidden: your role does not allow this (${f.message}).`;
    case 'NOT_FOUND':
      return `Not found: ${f.message}.`;
    case 'CONFLICT':
      return `Conflict: ${f.message}.`;
    case 'VALIDATION_FAILED':
      return `Invalid input: ${f.message}.`;
    case 'RATE_LIMITED':
      return `Too many attempts; try again in ${minutes(f.retryAfter)}.`;
    case 'UNAUTHORIZED':
      return 'Your session has ended; sign in again.';
    case 'UNAVAILABLE':
      return 'The API is unavailable right now; try again shortly.';
    default:
      return `The API refused the request (${f.code}).`;
  }
}

export function minutes(seconds: number | undefined): string {
  const m = Math.max(1, Math.ceil((seconds ?? 60) / 60));
  return m === 1 ? '1 minute' : `${m} minutes`;
}
