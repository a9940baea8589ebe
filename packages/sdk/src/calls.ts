// Browser-safe: no Node imports here (WebSocket, fetch and crypto.randomUUID are globals in browsers
// and in Node 20; pass `ws`'s WebSocket on Node where a global one is missing).

export type CallMedia = 'audio' | 'video';
export type CallEndReason =
  | 'hangup'
  | 'reject'
  | 'busy'
  | 'unavailable'
  | 'timeout'
  | 'glare'
  | 'answered-elsewhere'
  | 'disconnected';

export interface CallParty {
  userId: string;
  deviceId: number;
}

/** Frames the server sends on `/api/v1/calls/signal` (docs/api.md, "Calls"). */
export type CallEvent =
  | { type: 'offer'; callId: string; sdp: string; media: CallMedia; from: CallParty }
  | { type: 'answer'; callId: string; sdp: string; from: CallParty }
  | { type: 'ice'; callId: string; candidate: string; from: CallParty }
  | { type: 'ringing'; callId: string; from: CallParty }
  | { type: 'reject' | 'busy'; callId: string; from?: CallParty }
  | { type: 'unavailable' | 'answered-elsewhere'; callId: string }
  | { type: 'hangup'; callId: string; reason: CallEndReason; from?: CallParty }
  | { type: 'error'; code: string; message: string; callId?: string };

export interface TurnCredentials {
  urls: string[];
  username: string;
  credential: string;
  ttl: number;
}

export interface CallsClientOptions {
  /** Server base URL, e.g. http://localhost:3000 */
  url: string;
  getAccessToken: () => string | null | Promise<string | null>;
  WebSocket?: typeof globalThis.WebSocket;
  fetch?: typeof globalThis.fetch;
}

export class CallsError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'CallsError';
  }
}

/**
 * The typed calls API over the device's signaling socket: place, answer, reject, hangup, trickle ICE,
 * and the events of every call this device takes part in. SDP and candidates are passed through as
 * opaque strings (encrypt them end to end if you like; the server never parses them). The TURN
 * credentials come from `GET /calls/turn` and plug straight into `RTCPeerConnection({iceServers})`.
 */
export class CallsClient {
  private ws: WebSocket | null = null;
  private readonly listeners = new Set<(e: CallEvent) => void>();
  private readonly closeListeners = new Set<(code: number, reason: string) => void>();

  constructor(private readonly opts: CallsClientOptions) {}

  private get base(): string {
    return this.opts.url.replace(/\/$/, '');
  }

  /** Opens the signaling socket; resolves once the server can ring this device. */
  async connect(): Promise<void> {
    const token = (await this.opts.getAccessToken()) ?? '';
    const WS = this.opts.WebSocket ?? globalThis.WebSocket;
    const ws = new WS(`${this.base.replace(/^http/, 'ws')}/api/v1/calls/signal?token=${encodeURIComponent(token)}`);
    this.ws = ws;
    await new Promise<void>((resolve, reject) => {
      let ready = false;
      ws.onerror = () => {
        if (!ready) reject(new CallsError('UNAVAILABLE', 'signaling socket failed'));
      };
      ws.onclose = (ev) => {
        if (!ready) reject(new CallsError('UNAVAILABLE', `signaling socket closed (${ev.code})`));
        for (const l of this.closeListeners) l(ev.code, ev.reason);
      };
      ws.onmessage = (ev) => {
        let frame: { type: string };
        try {
          frame = JSON.parse(String(ev.data)) as { type: string };
        } catch {
          return;
        }
        if (frame.type === 'pong') {
          if (!ready) {
            ready = true;
            resolve();
          }
          return;
        }
        for (const l of this.listeners) l(frame as CallEvent);
      };
      ws.onopen = () => ws.send(JSON.stringify({ type: 'ping' }));
    });
  }

  /** Every frame about this device's calls; returns the unsubscribe function. */
  on(listener: (e: CallEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The socket closed (4409: a newer socket of this device; 4401/4403: session ended/banned). */
  onClose(listener: (code: number, reason: string) => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /** Resolves with the next event matching `pred` (e.g. the answer of a call). */
  next(pred: (e: CallEvent) => boolean, timeoutMs = 60_000): Promise<CallEvent> {
    return new Promise((resolve, reject) => {
      const off = this.on((e) => {
        if (!pred(e)) return;
        clearTimeout(timer);
        off();
        resolve(e);
      });
      const timer = setTimeout(() => {
        off();
        reject(new CallsError('TIMEOUT', `no matching call event within ${timeoutMs} ms`));
      }, timeoutMs);
    });
  }

  private send(frame: object): void {
    if (!this.ws || this.ws.readyState !== 1) throw new CallsError('UNAVAILABLE', 'signaling socket is not open');
    this.ws.send(JSON.stringify(frame));
  }

  /** Rings the callee's online devices; returns the callId (a new UUID unless given). */
  place(to: string, sdp: string, media: CallMedia = 'audio', callId: string = globalThis.crypto.randomUUID()): string {
    this.send({ type: 'offer', callId, to, sdp, media });
    return callId;
  }

  answer(callId: string, sdp: string): void {
    this.send({ type: 'answer', callId, sdp });
  }

  ringing(callId: string): void {
    this.send({ type: 'ringing', callId });
  }

  reject(callId: string): void {
    this.send({ type: 'reject', callId });
  }

  busy(callId: string): void {
    this.send({ type: 'busy', callId });
  }

  hangup(callId: string): void {
    this.send({ type: 'hangup', callId });
  }

  /** One trickled ICE candidate (e.g. `JSON.stringify(event.candidate.toJSON())`). */
  ice(callId: string, candidate: string): void {
    this.send({ type: 'ice', callId, candidate });
  }

  /** Time-limited TURN credentials for `RTCPeerConnection({ iceServers: [creds] })`. */
  async turnCredentials(): Promise<TurnCredentials> {
    const token = await this.opts.getAccessToken();
    const f = this.opts.fetch ?? globalThis.fetch;
    const r = await f(`${this.base}/api/v1/calls/turn`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    const body = (await r.json()) as TurnCredentials & { error?: { code: string; message: string } };
    if (r.status !== 200)
      throw new CallsError(body.error?.code ?? 'INTERNAL', body.error?.message ?? `HTTP ${r.status}`);
    return { urls: body.urls, username: body.username, credential: body.credential, ttl: body.ttl };
  }

  close(): void {
    this.ws?.close();
    this.ws = null;
  }
}
