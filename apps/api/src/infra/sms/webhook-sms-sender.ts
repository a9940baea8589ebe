import type { Logger } from 'pino';
import type { OtpMessage, SmsSender } from './sms-sender.js';

const ATTEMPTS = 3;

/** POSTs `{phone, code, purpose}` as JSON; retries network errors and 5xx with a short backoff. */
export class WebhookSmsSender implements SmsSender {
  readonly backend = 'webhook' as const;

  constructor(
    private readonly url: string,
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {}

  async send(msg: OtpMessage): Promise<void> {
    let lastError = 'unknown error';
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      try {
        const res = await fetch(this.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(msg),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        if (res.ok) return;
        lastError = `HTTP ${res.status}`;
        // A 4xx will not get better by retrying.
        if (res.status < 500) break;
      } catch (e) {
        lastError = e instanceof Error ? e.message : String(e);
      }
      if (attempt < ATTEMPTS) await new Promise((r) => setTimeout(r, 200 * 2 ** (attempt - 1)));
    }
    // Never the phone number or the code: the log is read by more people than the SMS gateway.
    this.log.error({ purpose: msg.purpose, err: lastError }, 'OTP webhook delivery failed');
    throw new Error(`OTP webhook failed: ${lastError}`);
  }
}
