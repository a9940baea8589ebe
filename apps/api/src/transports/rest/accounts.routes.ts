import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { deviceId } from '../../domain/schemas.js';
import {
  LoginInput,
  ProfileReply,
  RefreshInput,
  RefreshReply,
  RegisterInput,
  RegisterReply,
  SessionReply,
  VerifyInput,
  VerifyReply,
} from '../../services/accounts/accounts.schemas.js';
import type { Services } from '../../services/index.js';
import { AUTH_ERRORS, BEARER, BODY_ERRORS, NoContent, withErrors } from './responses.js';

const tags = ['auth'];

export function publicAccountRoutes(services: Services): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/auth/register',
      {
        schema: {
          tags,
          operationId: 'register',
          summary: 'Register an account; a one-time code is sent to the phone',
          body: RegisterInput,
          response: withErrors({ 201: RegisterReply }, [...BODY_ERRORS, 409, 429, 503]),
        },
      },
      async (req, reply) => reply.status(201).send(await services.accounts.register({ ip: req.ip }, req.body)),
    );
    app.post(
      '/auth/verify',
      {
        schema: {
          tags,
          operationId: 'verify',
          summary: 'Verify the phone with the code; opens a session on device 1',
          body: VerifyInput,
          response: withErrors({ 200: VerifyReply }, [...BODY_ERRORS, 401, 429]),
        },
      },
      (req) => services.accounts.verify({ ip: req.ip }, req.body),
    );
    app.post(
      '/auth/login',
      {
        schema: {
          tags,
          operationId: 'login',
          summary: 'Log in with username or phone; links a new device',
          body: LoginInput,
          response: withErrors({ 200: SessionReply }, [...BODY_ERRORS, 401, 403, 409, 429]),
        },
      },
      (req) => services.accounts.login({ ip: req.ip }, req.body),
    );
    app.post(
      '/auth/refresh',
      {
        schema: {
          tags,
          operationId: 'refresh',
          summary: 'Exchange a refresh token for new tokens (single use, rotates)',
          body: RefreshInput,
          response: withErrors({ 200: RefreshReply }, [...BODY_ERRORS, 401, 403, 429]),
        },
      },
      (req) => services.accounts.refresh(req.body),
    );
  };
}

export function accountRoutes(services: Services): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/auth/logout',
      {
        schema: {
          tags,
          operationId: 'logout',
          summary: 'Log out this device: revokes its refresh tokens and ends its sessions',
          security: BEARER,
          response: withErrors({ 204: NoContent }, [...BODY_ERRORS, ...AUTH_ERRORS]),
        },
      },
      async (req, reply) => {
        await services.accounts.logout(req.actor);
        return reply.status(204).send();
      },
    );
    app.get(
      '/me',
      {
        schema: {
          tags,
          operationId: 'me',
          summary: 'The caller’s account and devices',
          security: BEARER,
          response: withErrors({ 200: ProfileReply }, [...AUTH_ERRORS]),
        },
      },
      (req) => services.accounts.me(req.actor),
    );
    app.delete(
      '/devices/:deviceId',
      {
        schema: {
          tags,
          operationId: 'unlinkDevice',
          summary: 'Unlink one of the caller’s devices with its keys and queue',
          security: BEARER,
          params: z.strictObject({ deviceId }),
          response: withErrors({ 204: NoContent }, [...BODY_ERRORS, ...AUTH_ERRORS, 404]),
        },
      },
      async (req, reply) => {
        await services.accounts.unlinkDevice(req.actor, req.params.deviceId);
        return reply.status(204).send();
      },
    );
  };
}
