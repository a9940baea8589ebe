import { EventEmitter } from 'node:events';
import type { IdentityKeyPair } from '@signalapp/libsignal-client';
import WebSocketImpl from 'ws';
import {
  type AttachmentPointer,
  decodeAttachmentMessage,
  decryptAttachment,
  encodeAttachmentMessage,
  encryptAttachment,
  pointerFor,
} from './attachments.js';
import { type KeyValueStore, MemoryKeyValueStore } from './kv.js';
import { SignalDevice } from './protocol/device.js';
import type { BundleJson } from './protocol/wire.js';
import { createTransport, errorCode, errorDetails, type Transport } from './transport.js';

export interface ReceivedMessage {
  id: string;
  from: { userId: string; deviceId: number };
  /** The text ('' for an attachment message). */
  text: string;
  /** Set for an attachment message: pass it to `downloadAttachment`. */
  attachment?: AttachmentPointer;
  /** Size of the ciphertext the server stored, in bytes. */
  ciphertextBytes: number;
  serverTimestamp: string;
}

export interface ClientEvents {
  message: [ReceivedMessage];
  receipt: [{ id: string; status: 'sent' | 'delivered' | 'read'; at: string }];
  'queue.empty': [];
  'keys.replenished': [{ preKeyCount: number }];
  error: [Error];
}

export interface ConnectOptions {
  url: string;
  /** Signal state of this device (sessions, keys); default memory. Use FileKeyValueStore to persist. */
  store?: KeyValueStore;
  WebSocket?: typeof globalThis.WebSocket;
  /**
   * Called with the new tokens after every automatic refresh. Refresh tokens are single use: a client
   * that outlives its process (a CLI, a bot) must save them here, or its next start replays a used one.
   */
  onSession?: (session: Session) => void | Promise<void>;
}

/** A signed-in device's tokens; `expiresIn` is the access token's remaining lifetime in seconds. */
export interface Session {
  userId: string;
  deviceId: number;
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

const MAX_SEND_ATTEMPTS = 4;

/** Node 20 has no global WebSocket: default to `ws`. */
function nodeTransport(opts: ConnectOptions, getAccessToken: () => string | null): Transport {
  const WebSocket = opts.WebSocket ?? (WebSocketImpl as unknown as typeof globalThis.WebSocket);
  return createTransport({ url: opts.url, WebSocket, getAccessToken });
}

/**
 * A SnapTalker device for Node: account, keys, libsignal sessions, encrypted send with automatic
 * device-list repair (409/410), live receive + decrypt + ack, receipts and key replenishment.
 */
export class SnapTalkerClient extends EventEmitter<ClientEvents> {
  private readonly transport: Transport;
  private refreshTimer: NodeJS.Timeout | undefined;
  private subscription: { unsubscribe(): void } | undefined;
  private closed = false;
  /** Stream events still being decrypted or acknowledged (see `flush`). */
  private readonly pending = new Set<Promise<void>>();

  private constructor(
    private readonly opts: ConnectOptions,
    private tokens: Session,
    readonly device: SignalDevice,
  ) {
    super();
    this.transport = nodeTransport(opts, () => this.tokens.accessToken);
    this.scheduleRefresh();
  }

  get userId(): string {
    return this.tokens.userId;
  }

  get deviceId(): number {
    return this.tokens.deviceId;
  }

  get api() {
    return this.transport.trpc;
  }

  /** The current tokens (they rotate on every refresh). */
  get session(): Session {
    return { ...this.tokens };
  }

  /**
   * A client for a device signed in earlier (tokens and Signal state saved by the caller): no
   * sign-in, no key upload. `session.expiresIn` must be the access token's remaining lifetime.
   */
  static resume(opts: ConnectOptions & { session: Session; device: SignalDevice }): SnapTalkerClient {
    return new SnapTalkerClient(opts, { ...opts.session }, opts.device);
  }

  /** Registers an account, verifies it with the code `otp` returns, and uploads this device's keys. */
  static register(
    opts: ConnectOptions & {
      username: string;
      phone: string;
      password: string;
      deviceName?: string;
      otp: (phone: string) => Promise<string>;
    },
  ): Promise<SnapTalkerClient> {
    return SnapTalkerClient.signIn(opts, undefined, async (anon) => {
      await anon.trpc.auth.register.mutate({ username: opts.username, phone: opts.phone, password: opts.password });
      const code = await opts.otp(opts.phone);
      return anon.trpc.auth.verify.mutate({ phone: opts.phone, code, deviceName: opts.deviceName });
    });
  }

  /**
   * Links another device by signing in. Linked devices share the account's identity key, which a
   * real app transfers from the primary device (provisioning); here the caller hands it over.
   */
  static login(
    opts: ConnectOptions & { login: string; password: string; identity: IdentityKeyPair; deviceName?: string },
  ): Promise<SnapTalkerClient> {
    return SnapTalkerClient.signIn(opts, opts.identity, (anon) =>
      anon.trpc.auth.login.mutate({ login: opts.login, password: opts.password, deviceName: opts.deviceName }),
    );
  }

  /** Gets a session over an unauthenticated transport, then creates the device and uploads its keys. */
  private static async signIn(
    opts: ConnectOptions,
    identity: IdentityKeyPair | undefined,
    authenticate: (anon: Transport) => Promise<Session>,
  ): Promise<SnapTalkerClient> {
    const anon = nodeTransport(opts, () => null);
    try {
      const session = await authenticate(anon);
      const device = await SignalDevice.create({
        userId: session.userId,
        deviceId: session.deviceId,
        identity,
        store: opts.store,
      });
      const client = new SnapTalkerClient(opts, session, device);
      await client.uploadKeys(true);
      return client;
    } finally {
      anon.close();
    }
  }

  /** Generates and uploads prekeys (the first upload also carries identity and registration id). */
  async uploadKeys(first = false, preKeys = 100): Promise<number> {
    const upload = await this.device.generateKeys({ preKeys, kyberPreKeys: 10, lastResort: first });
    const counts = await this.api.keys.upload.mutate(upload);
    return counts.preKeyCount;
  }

  private scheduleRefresh(): void {
    clearTimeout(this.refreshTimer);
    // Refresh at 80% of the lifetime; the refresh token rotates every time.
    this.refreshTimer = setTimeout(() => {
      this.api.auth.refresh
        .mutate({ refreshToken: this.tokens.refreshToken })
        .then(async (r) => {
          this.tokens = { ...this.tokens, ...r };
          this.scheduleRefresh();
          await this.opts.onSession?.(this.session);
        })
        .catch((e: unknown) => this.fail(e));
    }, this.tokens.expiresIn * 800);
    this.refreshTimer.unref();
  }

  private async openSession(userId: string, deviceId?: number): Promise<number[]> {
    const bundle = (await this.api.keys.bundle.query({ userId, deviceId })) as BundleJson;
    const opened: number[] = [];
    for (const d of bundle.devices) {
      if (userId === this.userId && d.deviceId === this.deviceId) continue;
      await this.device.startSession(bundle, d.deviceId);
      opened.push(d.deviceId);
    }
    return opened;
  }

  /** Encrypts `text` for every device of `toUserId` and sends it; repairs the device list on 409/410. */
  async send(toUserId: string, text: string, clientMessageId: string = crypto.randomUUID()) {
    for (let attempt = 1; ; attempt++) {
      let devices = (await this.device.sessionDevices(toUserId)).filter(
        (d) => !(toUserId === this.userId && d === this.deviceId),
      );
      if (devices.length === 0 && attempt === 1) devices = await this.openSession(toUserId).catch(() => []);
      const messages = [];
      for (const deviceId of devices) {
        const c = await this.device.encrypt(toUserId, deviceId, text);
        const registrationId = (await this.device.remoteRegistrationId(toUserId, deviceId)) ?? 0;
        messages.push({ deviceId, registrationId, type: c.type, content: c.content });
      }
      try {
        return await this.api.messages.send.mutate({ recipientId: toUserId, clientMessageId, messages });
      } catch (e) {
        const code = errorCode(e);
        if (attempt >= MAX_SEND_ATTEMPTS || (code !== 'MISMATCHED_DEVICES' && code !== 'STALE_DEVICES')) throw e;
        const d = errorDetails(e) as { missingDevices?: number[]; extraDevices?: number[]; staleDevices?: number[] };
        for (const id of [...(d.extraDevices ?? []), ...(d.staleDevices ?? [])])
          await this.device.deleteSession(toUserId, id);
        for (const id of [...(d.missingDevices ?? []), ...(d.staleDevices ?? [])]) await this.openSession(toUserId, id);
      }
    }
  }

  /**
   * Encrypts `bytes` on this machine (AES-256-CBC + HMAC-SHA256, see attachments.ts), uploads the
   * ciphertext, completes it, and sends the recipient an E2EE message carrying the pointer (id, key,
   * digest, size, content type). The server stores only ciphertext and never sees the key.
   */
  async sendAttachment(toUserId: string, bytes: Uint8Array, contentType = 'application/octet-stream') {
    const encrypted = encryptAttachment(bytes);
    const created = await this.api.attachments.create.mutate({ size: encrypted.blob.byteLength, contentType });
    const put = await fetch(this.resolve(created.uploadUrl), {
      method: created.uploadMethod,
      headers: created.uploadHeaders,
      body: encrypted.blob,
    });
    if (!put.ok) throw new Error(`attachment upload failed: HTTP ${put.status}`);
    await put.arrayBuffer();
    await this.api.attachments.complete.mutate({ id: created.attachmentId });
    const pointer = pointerFor(created.attachmentId, encrypted, bytes.byteLength, contentType);
    const sent = await this.send(toUserId, encodeAttachmentMessage(pointer));
    return { ...sent, attachment: pointer };
  }

  /** Downloads a received attachment, checks its digest and MAC, and returns the plaintext. */
  async downloadAttachment(pointer: AttachmentPointer): Promise<Uint8Array> {
    const info = await this.api.attachments.get.query({ id: pointer.attachmentId });
    const res = await fetch(this.resolve(info.downloadUrl));
    if (!res.ok) throw new Error(`attachment download failed: HTTP ${res.status}`);
    return decryptAttachment(new Uint8Array(await res.arrayBuffer()), pointer);
  }

  /** The disk backend hands out paths on the API (without PUBLIC_URL); S3 URLs are absolute. */
  private resolve(url: string): string {
    return new URL(url, this.opts.url).toString();
  }

  /** Subscribes to the live stream: messages are decrypted, emitted and acknowledged. */
  connect(): void {
    if (this.subscription) return;
    this.subscription = this.api.messages.events.subscribe(undefined, {
      onData: (event) => {
        const handled = this.onEvent(event).catch((e: unknown) => this.fail(e));
        this.pending.add(handled);
        void handled.finally(() => this.pending.delete(handled));
      },
      onError: (e) => this.fail(e),
    });
  }

  private async onEvent(event: { type: string; [k: string]: unknown }): Promise<void> {
    if (event.type === 'message') {
      const env = event.envelope as {
        id: string;
        senderId: string;
        senderDeviceId: number;
        type: string;
        content: string | null;
        serverTimestamp: string;
      };
      const plaintext = await this.device.decrypt(env.senderId, env.senderDeviceId, env);
      const attachment = decodeAttachmentMessage(plaintext);
      this.emit('message', {
        id: env.id,
        from: { userId: env.senderId, deviceId: env.senderDeviceId },
        text: attachment ? '' : plaintext,
        ...(attachment ? { attachment } : {}),
        ciphertextBytes: Buffer.from(env.content ?? '', 'base64').length,
        serverTimestamp: env.serverTimestamp,
      });
      await this.api.messages.ack.mutate({ ids: [env.id] });
    } else if (event.type === 'message.status') {
      this.emit('receipt', event as unknown as ClientEvents['receipt'][0]);
    } else if (event.type === 'queue.empty') {
      this.emit('queue.empty');
    } else if (event.type === 'keys.low') {
      this.emit('keys.replenished', { preKeyCount: await this.uploadKeys(false) });
    }
  }

  /** Waits until every event received so far is handled (decrypted, emitted and acknowledged). */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  async markRead(messageId: string): Promise<void> {
    await this.api.messages.setStatus.mutate({ id: messageId, status: 'read' });
  }

  /** Errors go to 'error' listeners; with none (or after close) they are dropped, never thrown. */
  private fail(e: unknown): void {
    if (this.closed || this.listenerCount('error') === 0) return;
    this.emit('error', e instanceof Error ? e : new Error(String(e)));
  }

  /** Stops the stream and closes the socket; resolves once the socket is closed. */
  close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.refreshTimer);
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    return this.transport.close();
  }
}

export { MemoryKeyValueStore };
