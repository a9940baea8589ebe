import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorStatus } from '../../src/domain/errors.js';
import type { RunningServer } from '../../src/server.js';
import { routeDocs } from '../../src/transports/rest/route-docs.js';
import { startTestServer } from '../helpers/server.js';

// The document answers a new user's questions: every operation is described, and each error status lists
// only the codes that route can produce. (openapi.test.ts checks live error replies against these lists.)

type Json = Record<string, any>;

describe('OpenAPI document: descriptions and per-route error codes', () => {
  let server: RunningServer;
  let doc: Json;
  const ops: Array<{ name: string; op: Json }> = [];

  beforeAll(async () => {
    server = await startTestServer();
    doc = (await (await fetch(`${server.url}/api/v1/openapi.json`)).json()) as Json;
    for (const [path, item] of Object.entries(doc.paths as Json)) {
      for (const [method, op] of Object.entries(item as Json)) ops.push({ name: `${method} ${path}`, op: op as Json });
    }
  });
  afterAll(async () => {
    await server?.close();
  });

  it('every operation has a summary and a description, and route-docs.ts has no stale entry', () => {
    expect(ops.length).toBeGreaterThan(20);
    for (const { name, op } of ops) {
      expect(op.summary, name).toMatch(/\S{3}/);
      expect(op.description, name).toMatch(/\S{3}/);
      expect(routeDocs[op.operationId], `${name}: no entry for ${op.operationId} in route-docs.ts`).toBeDefined();
    }
    expect(Object.keys(routeDocs).sort()).toEqual(ops.map(({ op }) => op.operationId).sort());
  });

  it('each error status lists exactly the codes the route declares for it, each of that status', () => {
    for (const { name, op } of ops) {
      const declared = routeDocs[op.operationId]?.errors ?? [];
      const statuses = Object.keys(op.responses).filter((s) => Number(s) >= 400);
      for (const status of statuses) {
        const r = op.responses[status];
        const codes: string[] = r['x-error-codes'];
        expect(codes, `${name} ${status} has no codes in route-docs.ts`).toBeDefined();
        expect(codes.length, `${name} ${status}`).toBeGreaterThan(0);
        for (const c of codes) expect(errorStatus[c as keyof typeof errorStatus], `${name} ${c}`).toBe(Number(status));
        expect(r.description).toBe(`Error: ${codes.map((c) => `\`${c}\``).join(', ')}`);
      }
      // No code declared for a status the route's schema does not have (it would silently disappear).
      for (const c of declared) expect(statuses, `${name}: ${c}`).toContain(String(errorStatus[c]));
    }
  });

  it('answers the questions of a first-time user', () => {
    const op = (path: string, method: string) => doc.paths[path][method];
    const codes = (path: string, method: string, status: number) =>
      op(path, method).responses[String(status)]?.['x-error-codes'];
    // Register cannot fail a signature check or a device check.
    expect(codes('/api/v1/auth/register', 'post', 400)).toEqual(['VALIDATION_FAILED']);
    expect(codes('/api/v1/auth/register', 'post', 409)).toEqual(['CONFLICT']);
    expect(codes('/api/v1/auth/register', 'post', 410)).toBeUndefined();
    expect(codes('/api/v1/me', 'get', 403)).toEqual(['BANNED']);
    expect(codes('/api/v1/devices/{deviceId}', 'delete', 403)).toEqual(['FORBIDDEN', 'BANNED']);
    // Keys: the signatures are checked; what a registered device is.
    expect(codes('/api/v1/keys/upload', 'post', 400)).toEqual(['VALIDATION_FAILED', 'INVALID_SIGNATURE']);
    expect(op('/api/v1/keys/upload', 'post').description).toMatch(/registered\*? once it has uploaded its keys/);
    expect(op('/api/v1/keys/upload', 'post').description).toContain('snaptalker keys upload');
    // Send: the device checks and how to repair.
    const send = op('/api/v1/messages/send', 'post');
    expect(codes('/api/v1/messages/send', 'post', 409)).toEqual(['MISMATCHED_DEVICES']);
    expect(codes('/api/v1/messages/send', 'post', 410)).toEqual(['STALE_DEVICES']);
    expect(send.description).toContain('registered');
    expect(send.description).toMatch(/missingDevices[\s\S]*extraDevices[\s\S]*staleDevices[\s\S]*resend/);
    // Every REST route can be refused while the server shuts down.
    for (const { name, op: o } of ops.filter(
      ({ name }) => name.includes('/api/v1/') && !name.includes('stream') && !name.includes('calls/signal'),
    )) {
      expect(o.responses['503']?.['x-error-codes'], name).toContain('UNAVAILABLE');
    }
  });
});
