import { randomInt } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OtpMessage, SmsSender } from './sms-sender.js';

export interface SmsSenderSubject {
  impl: SmsSender;
  /** What the sink behind the sender has seen so far (webhook receiver, captured log). */
  delivered: () => OtpMessage[];
  cleanup: () => Promise<void>;
}

export const randomOtp = (): OtpMessage => ({
  phone: `+1555${String(randomInt(0, 10_000_000)).padStart(7, '0')}`,
  code: String(randomInt(0, 1_000_000)).padStart(6, '0'),
  purpose: 'register',
});

/**
 * What every SmsSender promises for a reachable sink: send resolves once the sink has the message. The
 * senders differ in kind (a gateway vs the log), so their failure modes are tested per implementation.
 */
export function describeSmsSender(label: string, make: () => Promise<SmsSenderSubject>): void {
  describe(`SmsSender contract: ${label}`, () => {
    let subject: SmsSenderSubject;

    beforeEach(async () => {
      subject = await make();
    });
    afterEach(async () => {
      await subject.cleanup();
    });

    it('send resolves and the sink has the phone, code and purpose', async () => {
      const msg = randomOtp();
      await expect(subject.impl.send(msg)).resolves.toBeUndefined();
      expect(subject.delivered()).toEqual([msg]);
    });

    it('sends several messages, each once and in order', async () => {
      const msgs = [randomOtp(), randomOtp(), randomOtp()];
      for (const m of msgs) await subject.impl.send(m);
      expect(subject.delivered()).toEqual(msgs);
    });
  });
}
