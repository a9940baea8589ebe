import {
  create,
  type DescMethod,
  type DescService,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from '@bufbuild/protobuf';
import type { GenService, GenServiceMethods } from '@bufbuild/protobuf/codegenv2';
import {
  type MethodDefinition,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  status as grpcStatus,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { AppError } from '../../domain/errors.js';
import type { Metrics } from '../../observability/metrics.js';
import { toStatus } from './errors.js';

/**
 * protobuf-es v2 descriptors → @grpc/grpc-js, so the generated code in @snaptalker/proto is the only
 * description of the wire format (no second copy of the .proto files loaded at runtime).
 */

/** Stands in for a request whose bytes did not decode, so it becomes INVALID_ARGUMENT (grpc-js says INTERNAL). */
class UndecodableRequest {}

type Methods<S> = S extends GenService<infer T extends GenServiceMethods> ? T : never;
type In<M extends GenServiceMethods[string]> = MessageShape<M['input']>;
type Out<M extends GenServiceMethods[string]> = MessageInitShape<M['output']>;

export type UnaryHandler<M extends GenServiceMethods[string]> = (
  req: In<M>,
  call: ServerUnaryCall<In<M>, Out<M>>,
) => Promise<Out<M>>;
/** Writes with `send` and resolves when the stream should end with OK; throwing ends it with the mapped status. */
export type ServerStreamHandler<M extends GenServiceMethods[string]> = (
  req: In<M>,
  call: ServerWritableStream<In<M>, Out<M>>,
) => Promise<void>;

/** One async function per RPC, keyed by the generated local name (`sendMessage`); only the kinds we serve. */
export type Handlers<S> = {
  [K in keyof Methods<S>]: Methods<S>[K]['methodKind'] extends 'unary'
    ? UnaryHandler<Methods<S>[K]>
    : Methods<S>[K]['methodKind'] extends 'server_streaming'
      ? ServerStreamHandler<Methods<S>[K]>
      : never;
};

function methodDefinition(m: DescMethod): MethodDefinition<unknown, unknown> {
  // Replies may be plain init objects: `create` returns an existing message unchanged.
  const encode = (schema: DescMethod['input']) => (msg: unknown) =>
    Buffer.from(toBinary(schema, create(schema, msg as MessageInitShape<typeof schema>)));
  return {
    path: `/${m.parent.typeName}/${m.name}`,
    requestStream: m.methodKind === 'client_streaming' || m.methodKind === 'bidi_streaming',
    responseStream: m.methodKind === 'server_streaming' || m.methodKind === 'bidi_streaming',
    requestSerialize: encode(m.input),
    requestDeserialize: (bytes: Buffer) => {
      try {
        return fromBinary(m.input, bytes);
      } catch {
        return new UndecodableRequest();
      }
    },
    responseSerialize: encode(m.output),
    responseDeserialize: (bytes: Buffer) => fromBinary(m.output, bytes),
    originalName: m.name,
  };
}

/** The grpc-js service definition of a generated service, keyed by local name like the handlers. */
export function serviceDefinition(service: DescService): ServiceDefinition {
  return Object.fromEntries(service.methods.map((m) => [m.localName, methodDefinition(m)]));
}

const undecodable = () => new AppError('VALIDATION_FAILED', 'request is not a valid protobuf message');

/** Adapts async handlers to grpc-js callbacks; every error leaves through errors.ts. */
export function implement<S extends DescService>(
  service: S,
  handlers: Handlers<S>,
  log: Logger,
  metrics?: Pick<Metrics, 'grpcHandled' | 'grpcDuration'>,
): UntypedServiceImplementation {
  const impl: UntypedServiceImplementation = {};
  for (const m of service.methods) {
    const callLog = log.child({ rpc: `${service.typeName}/${m.name}` });
    const labels = { grpc_service: service.typeName, grpc_method: m.name, grpc_type: m.methodKind };
    /** Counts the call with its final status code and observes how long it took. */
    const observe = (startedAt: number, code: number) => {
      if (!metrics) return;
      metrics.grpcHandled.inc({ ...labels, grpc_code: grpcStatus[code] ?? String(code) });
      metrics.grpcDuration.observe(labels, (performance.now() - startedAt) / 1000);
    };
    const handler = (handlers as Record<string, (req: unknown, call: unknown) => Promise<unknown>>)[m.localName];
    if (!handler) throw new Error(`no handler for ${service.typeName}/${m.name}`);
    if (m.methodKind === 'unary') {
      impl[m.localName] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
        const startedAt = performance.now();
        const run = async () => {
          if (call.request instanceof UndecodableRequest) throw undecodable();
          return handler(call.request, call);
        };
        run().then(
          (reply) => {
            observe(startedAt, grpcStatus.OK);
            callback(null, reply);
          },
          (e: unknown) => {
            const st = toStatus(e, callLog);
            observe(startedAt, st.code ?? grpcStatus.UNKNOWN);
            callback(st);
          },
        );
      };
    } else if (m.methodKind === 'server_streaming') {
      impl[m.localName] = (call: ServerWritableStream<unknown, unknown>) => {
        const startedAt = performance.now();
        const run = async () => {
          if (call.request instanceof UndecodableRequest) throw undecodable();
          await handler(call.request, call);
        };
        run().then(
          () => {
            observe(startedAt, call.cancelled ? grpcStatus.CANCELLED : grpcStatus.OK);
            call.end();
          },
          // grpc-js turns an 'error' event into the call's final status (with our trailers).
          (e: unknown) => {
            const st = toStatus(e, callLog);
            observe(startedAt, st.code ?? grpcStatus.UNKNOWN);
            call.emit('error', st);
          },
        );
      };
    } else {
      throw new Error(`${m.methodKind} methods are not supported (${service.typeName}/${m.name})`);
    }
  }
  return impl;
}

/**
 * Writes one message, waiting for the client to drain when the buffer is full (backpressure).
 * Resolves false once the call is cancelled (client gone or deadline passed): stop producing.
 */
export async function send<T>(call: ServerWritableStream<unknown, T>, msg: T): Promise<boolean> {
  if (call.cancelled) return false;
  if (call.write(msg)) return true;
  await new Promise<void>((resolve) => {
    const done = () => {
      for (const event of ['drain', 'cancelled', 'close', 'error']) call.off(event, done);
      resolve();
    };
    for (const event of ['drain', 'cancelled', 'close', 'error']) call.on(event, done);
  });
  return !call.cancelled;
}
