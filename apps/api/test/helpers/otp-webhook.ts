import { createServer, type Server } from 'node:http';

/** A local SMS gateway stand-in: the server POSTs OTPs here, tests read them back. */
export class OtpWebhook {
  private server: Server | undefined;
  readonly received: Array<{ phone: string; code: string; purpose: string }> = [];
  private waiters: Array<() => void> = [];
  /** Status to answer with (e.g. 500 to simulate a failing gateway). */
  status = 200;
  url = '';

  /** Listens on 127.0.0.1:`port` (default: any free port). */
  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (this.status === 200) {
          this.received.push(JSON.parse(body));
          for (const w of this.waiters.splice(0)) w();
        }
        res.writeHead(this.status).end();
      });
    });
    await new Promise<void>((r) => this.server?.listen(port, '127.0.0.1', r));
    const a = this.server.address();
    this.url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/otp`;
    return this;
  }

  /** The latest code sent to `phone`, waiting up to 5 s for it. */
  async codeFor(phone: string, after = 0): Promise<string> {
    const end = Date.now() + 5_000;
    for (;;) {
      const hits = this.received.filter((r) => r.phone === phone);
      if (hits.length > after) return hits[hits.length - 1]?.code as string;
      if (Date.now() > end) throw new Error(`no OTP for ${phone}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  count(phone: string): number {
    return this.received.filter((r) => r.phone === phone).length;
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server?.close(() => r()));
  }
}
