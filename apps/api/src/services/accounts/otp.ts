import { createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { Kv } from '../../infra/kv/kv.js';

export const OTP_TTL_MS = 5 * 60 * 1000;
export const OTP_MAX_TRIES = 5;

interface StoredOtp {
  userId: string;
  salt: string;
  mac: string;
}

export type OtpCheck = { ok: true; userId: string } | { ok: false };

/** Six-digit codes from a CSPRNG, kept only as a salted HMAC, 5-minute TTL, 5 tries per code. */
export class OtpStore {
  constructor(
    private readonly kv: Kv,
    private readonly pepper: string,
  ) {}

  private mac(phone: string, code: string, salt: string): Buffer {
    return createHmac('sha256', this.pepper).update(`${salt}:${phone}:${code}`).digest();
  }

  async issue(phone: string, userId: string): Promise<string> {
    const code = randomInt(0, 1_000_000).toString().padStart(6, '0');
    const salt = randomBytes(16).toString('base64');
    const record: StoredOtp = { userId, salt, mac: this.mac(phone, code, salt).toString('base64') };
    await this.kv.del(`otp-tries:${phone}`);
    await this.kv.set(`otp:${phone}`, JSON.stringify(record), OTP_TTL_MS);
    return code;
  }

  async check(phone: string, code: string): Promise<OtpCheck> {
    const raw = await this.kv.get(`otp:${phone}`);
    if (!raw) return { ok: false };
    // Count the try before comparing, so parallel guesses cannot exceed the budget.
    const tries = await this.kv.incr(`otp-tries:${phone}`, OTP_TTL_MS);
    const record = JSON.parse(raw) as StoredOtp;
    const expected = Buffer.from(record.mac, 'base64');
    const match = tries <= OTP_MAX_TRIES && timingSafeEqual(expected, this.mac(phone, code, record.salt));
    if (match || tries >= OTP_MAX_TRIES) await this.kv.del(`otp:${phone}`);
    return match ? { ok: true, userId: record.userId } : { ok: false };
  }

  async void(phone: string): Promise<void> {
    await this.kv.del(`otp:${phone}`);
  }
}
