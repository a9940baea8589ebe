import type { Metadata } from '@grpc/grpc-js';
import type { Actor } from '../../domain/actor.js';
import type { Services } from '../../services/index.js';
import { bearerToken } from '../rest/auth.js';

/** `authorization: Bearer …` metadata → the caller, through the same check REST and WebSocket use. */
export function authenticate(services: Services, call: { metadata: Metadata }): Promise<Actor> {
  const [header] = call.metadata.get('authorization');
  return services.accounts.authenticate(bearerToken(typeof header === 'string' ? header : undefined));
}
