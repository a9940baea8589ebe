import type { Logger } from 'pino';
import type { OtpMessage, SmsSender } from './sms-sender.js';

/** Development default (the contract says it logs the code): never configure it in production. */
export class ConsoleSmsSender implements SmsSender {
  readonly backend = 'console' as const;

  constructor(private readonly log: Logger) {}

  async send(msg: OtpMessage): Promise<void> {
    this.log.info({ phone: msg.phone, purpose: msg.purpose }, `OTP for ${msg.phone}: ${msg.code}`);
  }
}
