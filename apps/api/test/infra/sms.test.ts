import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ConsoleSmsSender } from '../../src/infra/sms/console-sms-sender.js';
import type { OtpMessage } from '../../src/infra/sms/sms-sender.js';
import { describeSmsSender, randomOtp } from '../../src/infra/sms/sms-sender.contract.js';
import { WebhookSmsSender } from '../../src/infra/sms/webhook-sms-sender.js';

/** A pino logger writing JSON lines into memory. */
function captureLogger() {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(s) });
  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { log, lines, records };
}

interface ReceivedRequest {
  method: string | undefined;
  url: string | undefined;
  contentType: string | undefined;
  body: string;
}

/** A local webhook receiver; `respond` decides each answer (by 0-based request number). */
async function startReceiver(respond: (n: number, res: ServerResponse) => void = (_n, res) => res.end()) {
  const requests: ReceivedRequest[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const n = requests.length;
      requests.push({ method: req.method, url: req.url, contentType: req.headers['content-type'], body });
      respond(n, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/otp`;
  return {
    url,
    requests,
    bodies: () => requests.map((r) => JSON.parse(r.body) as OtpMessage),
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describeSmsSender('WebhookSmsSender', async () => {
  const receiver = await startReceiver();
  const { log } = captureLogger();
  return {
    impl: new WebhookSmsSender(receiver.url, 2_000, log),
    delivered: receiver.bodies,
    cleanup: receiver.stop,
  };
});

describeSmsSender('ConsoleSmsSender', async () => {
  const { log, records } = captureLogger();
  return {
    impl: new ConsoleSmsSender(log),
    delivered: () =>
      records().map((r) => ({
        phone: r.phone as string,
        code: /: (\d+)$/.exec(String(r.msg))?.[1] as string,
        purpose: r.purpose as OtpMessage['purpose'],
      })),
    cleanup: async () => {},
  };
});

describe('WebhookSmsSender', () => {
  const stops: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await Promise.all(stops.splice(0).map((s) => s()));
  });
  async function receiver(respond?: (n: number, res: ServerResponse) => void) {
    const r = await startReceiver(respond);
    stops.push(r.stop);
    return r;
  }

  it('POSTs exactly the JSON body {phone, code, purpose}', async () => {
    const r = await receiver();
    const msg = randomOtp();
    await new WebhookSmsSender(r.url, 2_000, captureLogger().log).send(msg);
    expect(r.requests).toHaveLength(1);
    const [req] = r.requests;
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/otp');
    expect(req?.contentType).toMatch(/^application\/json\b/);
    const body = JSON.parse(req?.body ?? '') as Record<string, unknown>;
    expect(body).toStrictEqual({ phone: msg.phone, code: msg.code, purpose: 'register' });
    expect(Object.keys(body).sort()).toEqual(['code', 'phone', 'purpose']);
  });

  it('retries after a 500 and then succeeds', async () => {
    const r = await receiver((n, res) => res.writeHead(n === 0 ? 500 : 200).end());
    const msg = randomOtp();
    await expect(new WebhookSmsSender(r.url, 2_000, captureLogger().log).send(msg)).resolves.toBeUndefined();
    expect(r.bodies()).toEqual([msg, msg]);
  });

  it('throws and logs after every attempt failed with a 5xx', async () => {
    const r = await receiver((_n, res) => res.writeHead(503).end());
    const cap = captureLogger();
    const msg = randomOtp();
    await expect(new WebhookSmsSender(r.url, 2_000, cap.log).send(msg)).rejects.toThrow(/HTTP 503/);
    expect(r.requests).toHaveLength(3);
    expect(r.bodies().every((b) => b.phone === msg.phone && b.code === msg.code)).toBe(true);
    const errors = cap.records().filter((l) => l.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ purpose: msg.purpose, err: 'HTTP 503' });
    // Neither the code nor the phone number reaches the log.
    expect(cap.lines.join('')).not.toContain(msg.code);
    expect(cap.lines.join('')).not.toContain(msg.phone.slice(1));
  });

  it('does not retry a 4xx', async () => {
    const r = await receiver((_n, res) => res.writeHead(400).end());
    await expect(new WebhookSmsSender(r.url, 2_000, captureLogger().log).send(randomOtp())).rejects.toThrow(/HTTP 400/);
    expect(r.requests).toHaveLength(1);
  });

  it('throws when the receiver does not answer within the timeout', async () => {
    // Holds every request open; stop() cuts the connections.
    const r = await receiver(() => {});
    const started = Date.now();
    await expect(new WebhookSmsSender(r.url, 100, captureLogger().log).send(randomOtp())).rejects.toThrow(
      /OTP webhook failed/,
    );
    expect(r.requests).toHaveLength(3);
    // Three 100 ms timeouts plus the backoff, not a hang.
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('throws when the receiver is unreachable', async () => {
    const r = await startReceiver();
    await r.stop();
    await expect(new WebhookSmsSender(r.url, 500, captureLogger().log).send(randomOtp())).rejects.toThrow(
      /OTP webhook failed/,
    );
  });
});

describe('ConsoleSmsSender', () => {
  it('logs one info line containing the phone, the code and the purpose', async () => {
    const cap = captureLogger();
    const msg = randomOtp();
    await new ConsoleSmsSender(cap.log).send(msg);
    expect(cap.lines).toHaveLength(1);
    expect(cap.lines[0]).toContain(msg.phone);
    expect(cap.lines[0]).toContain(msg.code);
    expect(cap.records()[0]).toMatchObject({ level: 30, phone: msg.phone, purpose: 'register' });
  });
});
