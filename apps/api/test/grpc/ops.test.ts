import { fromBinary } from '@bufbuild/protobuf';
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { KeyExchangeService } from '@snaptalker/proto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningServer } from '../../src/server.js';
import { client, createUser } from '../helpers/api.js';
import { failure, grpcClient } from '../helpers/grpc-client.js';
import { OtpWebhook } from '../helpers/otp-webhook.js';
import { startTestServer } from '../helpers/server.js';
import { TcpProxy, waitFor } from '../helpers/tcp-proxy.js';

const SERVICES = ['', 'snaptalker.v1.MessageService', 'snaptalker.v1.KeyExchangeService'];

/** grpc.health.v1.Health/Check through the definition grpc-health-check ships. */
function healthClient(port: number) {
  const Health = grpc.makeGenericClientConstructor(healthService as grpc.ServiceDefinition, 'Health');
  const c = new Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    check(req: { service: string }, cb: (err: grpc.ServiceError | null, res: { status: string }) => void): void;
  };
  const check = (service: string) =>
    new Promise<string>((resolve, reject) =>
      c.check({ service }, (err, res) => (err ? reject(err) : resolve(res.status))),
    );
  return { check, close: () => c.close() };
}

/**
 * A minimal grpc.reflection.v1 client: the reflection messages are encoded by hand (field numbers
 * from reflection.proto) so the test needs no second copy of that proto.
 */
async function reflect(port: number, request: { listServices: true } | { fileContainingSymbol: string }) {
  const channel = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const call = channel.makeBidiStreamRequest(
    '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
    (req: Uint8Array) => Buffer.from(req),
    (res: Buffer) => res,
  );
  const w = new BinaryWriter();
  if ('listServices' in request) w.tag(7, WireType.LengthDelimited).string('');
  else w.tag(4, WireType.LengthDelimited).string(request.fileContainingSymbol);
  const reply = new Promise<Buffer>((resolve, reject) => {
    call.once('data', resolve);
    call.once('error', reject);
  });
  call.write(w.finish());
  call.end();
  const bytes = await reply;
  channel.close();

  const fields = (buf: Uint8Array) => {
    const out: Array<[number, Uint8Array]> = [];
    const r = new BinaryReader(buf);
    while (r.pos < r.len) {
      const [no, type] = r.tag();
      if (type === WireType.LengthDelimited) out.push([no, r.bytes()]);
      else r.skip(type);
    }
    return out;
  };
  const top = fields(bytes);
  const utf8 = (b: Uint8Array) => Buffer.from(b).toString('utf8');
  // ServerReflectionResponse: 6 = list_services_response { 1: repeated ServiceResponse { 1: name } },
  // 4 = file_descriptor_response { 1: repeated bytes file_descriptor_proto }, 7 = error_response.
  const services = top
    .filter(([no]) => no === 6)
    .flatMap(([, b]) => fields(b).map(([, s]) => utf8(fields(s).find(([n]) => n === 1)?.[1] ?? new Uint8Array())));
  const files = top
    .filter(([no]) => no === 4)
    .flatMap(([, b]) => fields(b).map(([, f]) => fromBinary(FileDescriptorProtoSchema, f)));
  return { services, files, error: top.some(([no]) => no === 7) };
}

describe('gRPC health follows readiness; reflection lists the services', () => {
  let server: RunningServer;
  let pgProxy: TcpProxy;
  let health: ReturnType<typeof healthClient>;
  let otp: OtpWebhook;

  beforeAll(async () => {
    const db = new URL(inject('databaseUrl'));
    pgProxy = await new TcpProxy(db.hostname, Number(db.port || 5432)).start();
    db.host = `127.0.0.1:${pgProxy.port}`;
    otp = await new OtpWebhook().start();
    server = await startTestServer({ DATABASE_URL: db.toString(), OTP_WEBHOOK_URL: otp.url });
    health = healthClient(server.grpcPort);
  });
  afterAll(async () => {
    health.close();
    await server.close();
    await pgProxy.stop();
    await otp.stop();
  });

  const statuses = () => Promise.all(SERVICES.map((s) => health.check(s)));

  it('SERVING, then NOT_SERVING within 5 s of PostgreSQL going away, then SERVING again', async () => {
    const me = await createUser(client(server.url), otp);
    const keys = grpcClient(KeyExchangeService, server.grpcPort, { token: me.accessToken });
    expect(await statuses()).toEqual(['SERVING', 'SERVING', 'SERVING']);
    pgProxy.cut();
    const t0 = Date.now();
    await waitFor(async () => (await statuses()).every((s) => s === 'NOT_SERVING'), 5_000);
    expect(Date.now() - t0).toBeLessThan(5_000);
    // Meanwhile a call that needs the database fails as UNAVAILABLE (retry later), naming no internals.
    const f = await failure(keys.getKeyBundle({ userId: me.userId }));
    expect(f).toMatchObject({
      code: grpc.status.UNAVAILABLE,
      details: 'a backing service is unavailable; retry shortly',
    });
    keys.close();
    pgProxy.restore();
    await waitFor(async () => (await statuses()).every((s) => s === 'SERVING'), 10_000);
  });

  it('an unknown service name is NOT_FOUND', async () => {
    await expect(health.check('no.such.Service')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  it('reflection lists MessageService, KeyExchangeService and Health, with usable descriptors', async () => {
    const { services } = await reflect(server.grpcPort, { listServices: true });
    expect(services).toEqual(
      expect.arrayContaining([
        'snaptalker.v1.MessageService',
        'snaptalker.v1.KeyExchangeService',
        'grpc.health.v1.Health',
      ]),
    );
    const { files, error } = await reflect(server.grpcPort, { fileContainingSymbol: 'snaptalker.v1.MessageService' });
    expect(error).toBe(false);
    const methods = files.flatMap((f) => f.service).find((s) => s.name === 'MessageService')?.method;
    expect(methods?.map((m) => m.name)).toEqual(['SendMessage', 'GetMessages', 'MarkDelivered', 'StreamMessages']);
  });
});
