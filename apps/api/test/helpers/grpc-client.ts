import type { DescService, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import type { GenService, GenServiceMethods } from '@bufbuild/protobuf/codegenv2';
import * as grpc from '@grpc/grpc-js';
import type { GetKeyBundleResponse, KeyExchangeService, UploadKeyBundleRequestSchema } from '@snaptalker/proto';
import { serviceDefinition } from '../../src/transports/grpc/service-adapter.js';
import { b64, type BundleJson, fromB64, type KeyUpload } from './signal-client.js';

/**
 * A typed gRPC test client built from the generated descriptors (the same adapter the server uses):
 * unary methods return promises (rejecting with grpc's ServiceError), server-streaming methods a
 * GrpcStream that collects messages and the final status.
 */

export interface CallOptions {
  token?: string;
  /** Milliseconds from now. */
  deadlineMs?: number;
}

type Methods<S> = S extends GenService<infer T extends GenServiceMethods> ? T : never;
type ClientMethod<M extends GenServiceMethods[string]> = M['methodKind'] extends 'unary'
  ? (req: MessageInitShape<M['input']>, opts?: CallOptions) => Promise<MessageShape<M['output']>>
  : (req: MessageInitShape<M['input']>, opts?: CallOptions) => GrpcStream<MessageShape<M['output']>>;
export type GrpcClient<S> = { [K in keyof Methods<S>]: ClientMethod<Methods<S>[K]> } & { close(): void };

export function grpcClient<S extends DescService>(
  service: S,
  port: number,
  defaults: CallOptions = {},
  credentials = grpc.credentials.createInsecure(),
): GrpcClient<S> {
  const channel = new grpc.Client(`127.0.0.1:${port}`, credentials);
  const def = serviceDefinition(service);
  const out: Record<string, unknown> = { close: () => channel.close() };
  for (const m of service.methods) {
    const d = def[m.localName] as grpc.MethodDefinition<unknown, unknown>;
    const prepare = (opts: CallOptions = {}) => {
      const { token, deadlineMs } = { ...defaults, ...opts };
      const md = new grpc.Metadata();
      if (token) md.set('authorization', `Bearer ${token}`);
      return { md, callOpts: deadlineMs ? { deadline: Date.now() + deadlineMs } : {} };
    };
    out[m.localName] =
      m.methodKind === 'unary'
        ? (req: unknown, opts?: CallOptions) => {
            const { md, callOpts } = prepare(opts);
            return new Promise((resolve, reject) =>
              channel.makeUnaryRequest(
                d.path,
                d.requestSerialize,
                d.responseDeserialize,
                req,
                md,
                callOpts,
                (err, res) => (err ? reject(err) : resolve(res)),
              ),
            );
          }
        : (req: unknown, opts?: CallOptions) => {
            const { md, callOpts } = prepare(opts);
            return new GrpcStream(
              channel.makeServerStreamRequest(d.path, d.requestSerialize, d.responseDeserialize, req, md, callOpts),
            );
          };
  }
  return out as GrpcClient<S>;
}

export class GrpcStream<T> {
  readonly messages: T[] = [];
  readonly status: Promise<grpc.StatusObject>;
  private cursor = 0;
  private waiters: Array<() => void> = [];

  constructor(readonly call: grpc.ClientReadableStream<T>) {
    call.on('data', (m: T) => {
      this.messages.push(m);
      for (const w of this.waiters.splice(0)) w();
    });
    // A non-OK status is also an 'error' event; 'status' carries it either way.
    call.on('error', () => {});
    this.status = new Promise((r) => call.on('status', r));
    void this.status.then(() => {
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** The next not-yet-consumed message matching `pred`. */
  async next(pred: (m: T) => boolean = () => true, timeoutMs = 10_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      while (this.cursor < this.messages.length) {
        const m = this.messages[this.cursor++] as T;
        if (pred(m)) return m;
      }
      if (Date.now() >= end) throw new Error(`no matching message within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }

  /** Every message and the final status, once the call ends. */
  async all(): Promise<{ messages: T[]; status: grpc.StatusObject }> {
    const status = await this.status;
    return { messages: this.messages, status };
  }

  cancel(): void {
    this.call.cancel();
  }
}

/** The rejection of a call, with its trailers as a plain object (error-code, error-details, retry-after). */
export async function failure(p: Promise<unknown>): Promise<{ code: grpc.status; details: string; trailers: any }> {
  const e = await p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (err: grpc.ServiceError) => err,
  );
  return { code: e.code, details: e.details, trailers: e.metadata.getMap() };
}

/** SignalDevice's upload body (base64 JSON) as the gRPC request (raw bytes). */
export function uploadRequest(k: KeyUpload) {
  const key = (x: { keyId: number; publicKey: string }) => ({ keyId: x.keyId, publicKey: fromB64(x.publicKey) });
  const signed = (x: { keyId: number; publicKey: string; signature: string }) => ({
    ...key(x),
    signature: fromB64(x.signature),
  });
  return {
    identityKey: fromB64(k.identityKey),
    registrationId: k.registrationId,
    signedPreKey: signed(k.signedPreKey),
    preKeys: k.preKeys.map(key),
    kyberPreKeys: k.kyberPreKeys.map(signed),
    kyberLastResortPreKey: k.kyberLastResortPreKey && signed(k.kyberLastResortPreKey),
  } satisfies MessageInitShape<typeof UploadKeyBundleRequestSchema>;
}

/** A gRPC bundle reply as the JSON BundleJson that SignalDevice.startSession builds sessions from. */
export function bundleJson(b: GetKeyBundleResponse): BundleJson {
  const key = (x: { keyId: number; publicKey: Uint8Array }) => ({ keyId: x.keyId, publicKey: b64(x.publicKey) });
  const signed = (x: { keyId: number; publicKey: Uint8Array; signature: Uint8Array }) => ({
    ...key(x),
    signature: b64(x.signature),
  });
  return {
    userId: b.userId,
    identityKey: b64(b.identityKey),
    devices: b.devices.map((d) => ({
      deviceId: d.deviceId,
      registrationId: d.registrationId,
      signedPreKey: signed(d.signedPreKey as NonNullable<typeof d.signedPreKey>),
      preKey: d.preKey && key(d.preKey),
      kyberPreKey: d.kyberPreKey && signed(d.kyberPreKey),
    })),
  };
}

export type KeysClient = GrpcClient<typeof KeyExchangeService>;
