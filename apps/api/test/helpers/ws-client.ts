import WebSocket from 'ws';

export interface Frame {
  type: string;
  [k: string]: any;
}

/** A test WebSocket: collects JSON frames, lets a test await the next matching one or the close. */
export class TestSocket {
  readonly frames: Frame[] = [];
  private cursor = 0;
  private waiters: Array<() => void> = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly opened: Promise<void>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => {
      // tRPC's keep-alive sends bare PING/PONG text frames: kept, not thrown on.
      let frame: Frame;
      try {
        frame = JSON.parse(d.toString());
      } catch {
        frame = { type: '__text__', text: d.toString() };
      }
      this.frames.push(frame);
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    this.opened = new Promise((res, rej) => {
      ws.once('open', () => res());
      ws.once('unexpected-response', (_req, resp) => rej(new Error(`upgrade refused: ${resp.statusCode}`)));
      ws.once('error', rej);
    });
  }

  static async connect(
    baseUrl: string,
    token: string,
    via: 'header' | 'query' = 'header',
    path = '/api/v1/messages/stream',
  ): Promise<TestSocket> {
    const url = `${baseUrl.replace(/^http/, 'ws')}${path}${via === 'query' ? `?token=${token}` : ''}`;
    const ws = new WebSocket(url, via === 'header' ? { headers: { authorization: `Bearer ${token}` } } : {});
    const s = new TestSocket(ws);
    await s.opened;
    return s;
  }

  send(frame: object): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** The next not-yet-consumed frame matching `pred` (frames before it are skipped). */
  async next(pred: (f: Frame) => boolean = () => true, timeoutMs = 10_000): Promise<Frame> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      while (this.cursor < this.frames.length) {
        const f = this.frames[this.cursor++] as Frame;
        if (pred(f)) return f;
      }
      const left = end - Date.now();
      if (left <= 0)
        throw new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames.slice(-5))}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, Math.min(left, 200));
      });
    }
  }

  /** Collects frames until one matches `until` (inclusive). */
  async collect(until: (f: Frame) => boolean, timeoutMs = 30_000): Promise<Frame[]> {
    const out: Frame[] = [];
    const end = Date.now() + timeoutMs;
    for (;;) {
      const f = await this.next(() => true, Math.max(1, end - Date.now()));
      out.push(f);
      if (until(f)) return out;
    }
  }

  close(): void {
    this.ws.close();
  }
}
