import type { Logger } from 'pino';
import type { Config } from '../../config/index.js';
import type { Actor, Origin } from '../../domain/actor.js';
import { AppError } from '../../domain/errors.js';
import { deviceTopic, SESSIONS_CHANGED_TOPIC, type SessionEvent } from '../../domain/topics.js';
import type { AccountsRepo, DeviceAuthState, Tx } from '../../infra/db/repos/accounts.repo.js';
import type { Broker } from '../../infra/broker/broker.js';
import type { SmsSender } from '../../infra/sms/sms-sender.js';
import type { Limits } from '../rate-limits.js';
import type {
  LoginInput,
  Profile,
  RefreshInput,
  RegisterInput,
  RefreshReply,
  RegisterReply,
  Session,
  VerifyInput,
} from './accounts.schemas.js';
import type { OtpStore } from './otp.js';
import type { Passwords } from './passwords.js';
import { hashRefreshToken, type Tokens } from './tokens.js';

const LAST_SEEN_RESOLUTION_MS = 60_000;

export interface AccountsDeps {
  config: Config;
  repo: AccountsRepo;
  passwords: Passwords;
  tokens: Tokens;
  otp: OtpStore;
  sms: SmsSender;
  limits: Limits;
  broker: Broker;
  log: Logger;
  /** The user's registered devices changed (an unlink): caches must drop them. */
  devicesChanged: (userId: string) => Promise<void>;
}

export class AccountsService {
  private readonly rules;
  /** Per-node cache of device auth states (see authState). */
  private readonly authCache = new Map<string, { state: DeviceAuthState; at: number }>();
  private authEpoch = 0;

  constructor(private readonly d: AccountsDeps) {
    const c = d.config;
    this.rules = {
      registerPhone: { name: 'register-phone', ...c.RATE_LIMIT_REGISTER_PHONE },
      registerIp: { name: 'register-ip', ...c.RATE_LIMIT_REGISTER_IP },
      verifyIp: { name: 'verify-ip', ...c.RATE_LIMIT_VERIFY_IP },
      loginAccount: { name: 'login-account', ...c.RATE_LIMIT_LOGIN_ACCOUNT },
      loginIp: { name: 'login-ip', ...c.RATE_LIMIT_LOGIN_IP },
      refreshDevice: { name: 'refresh-device', ...c.RATE_LIMIT_REFRESH_DEVICE },
    };
  }

  async register(origin: Origin, input: RegisterInput): Promise<RegisterReply> {
    await this.d.limits.consume(this.rules.registerIp, origin.ip);
    await this.d.limits.consume(this.rules.registerPhone, input.phone);
    const usernameLower = input.username.toLowerCase();
    const owners = await this.d.repo.findOwners(usernameLower, input.phone);
    const taken = owners.find((o) => o.verified);
    if (taken) {
      const field = taken.phone === input.phone ? 'phone' : 'username';
      throw new AppError('CONFLICT', `${field} is already registered`, { field });
    }

    const passwordHash = await this.d.passwords.hash(input.password);
    const userId = await this.d.repo.replacePending({ username: input.username, phone: input.phone, passwordHash });
    if (!userId) throw new AppError('CONFLICT', 'username or phone is already registered');

    const code = await this.d.otp.issue(input.phone, userId);
    try {
      await this.d.sms.send({ phone: input.phone, code, purpose: 'register' });
    } catch {
      // No half-created account: without a delivered code the registration cannot complete.
      await this.d.otp.void(input.phone);
      await this.d.repo.deletePending(userId);
      throw new AppError('UNAVAILABLE', 'could not send the verification code; try again');
    }
    return { userId, status: 'pending_verification' };
  }

  async verify(origin: Origin, input: VerifyInput): Promise<Session & { deviceId: 1 }> {
    await this.d.limits.consume(this.rules.verifyIp, origin.ip);
    const check = await this.d.otp.check(input.phone, input.code);
    if (!check.ok) throw new AppError('INVALID_CODE', 'the code is wrong, expired or used up');
    const session = await this.d.repo.transaction(async (tx) => {
      if (!(await this.d.repo.verifyAndCreateFirstDevice(tx, check.userId, input.phone, input.deviceName))) return null;
      return this.openSession(tx, check.userId, 1, 0);
    });
    if (!session) throw new AppError('INVALID_CODE', 'the code is wrong, expired or used up');
    return { ...session, deviceId: 1 };
  }

  async login(origin: Origin, input: LoginInput): Promise<Session> {
    await this.d.limits.consume(this.rules.loginIp, origin.ip);
    const user = await this.d.repo.findByLogin(input.login);
    // Failures count per account, whichever login form (username or phone) they used; an unknown
    // login counts under its own spelling so guessing at non-accounts is limited too.
    const accountKey = user ? `user:${user.id}` : `login:${input.login.toLowerCase()}`;
    await this.d.limits.check(this.rules.loginAccount, accountKey);
    const ok = user
      ? await this.d.passwords.verify(user.passwordHash, input.password)
      : await this.d.passwords.burn(input.password).then(() => false);
    if (!user || !ok) {
      await this.d.limits.fail(this.rules.loginAccount, accountKey);
      throw new AppError('INVALID_CREDENTIALS', 'wrong login or password');
    }
    if (!user.verified) throw new AppError('NOT_VERIFIED', 'verify the phone number first');
    if (user.banned) throw new AppError('BANNED', 'this account is banned');
    await this.d.limits.reset(this.rules.loginAccount, accountKey);

    const max = this.d.config.MAX_DEVICES_PER_ACCOUNT;
    const session = await this.d.repo.transaction(async (tx) => {
      const deviceId = await this.d.repo.linkDevice(tx, user.id, input.deviceName, max);
      return deviceId === null ? null : this.openSession(tx, user.id, deviceId, 0);
    });
    if (!session) throw new AppError('CONFLICT', `an account can link at most ${max} devices`, { maxDevices: max });
    return session;
  }

  async refresh(input: RefreshInput): Promise<RefreshReply> {
    const row = await this.d.repo.findRefreshToken(hashRefreshToken(input.refreshToken));
    if (!row) throw new AppError('UNAUTHORIZED', 'unknown refresh token');
    const { userId, deviceId } = row;
    await this.d.limits.consume(this.rules.refreshDevice, `${userId}:${deviceId}`);
    if (!row.usedAt && (row.revokedAt || row.expiresAt <= new Date()))
      throw new AppError('UNAUTHORIZED', 'refresh token revoked or expired');
    const outcome = await this.d.repo.transaction(async (tx) => {
      const device = await this.d.repo.lockDevice(tx, userId, deviceId);
      if (!device) return 'unlinked' as const;
      // Under the device lock: either this call rotates the token, or it saw a used one and revokes
      // every token of the device — including one a concurrent winner minted a moment ago.
      if (row.usedAt || !(await this.d.repo.markRefreshUsed(row.id, tx))) {
        await this.d.repo.revokeDeviceRefreshTokens(userId, deviceId, tx);
        return 'reused' as const;
      }
      if (device.banned) return 'banned' as const;
      return this.openSession(tx, userId, deviceId, device.tokenVersion);
    });
    if (outcome === 'unlinked') throw new AppError('UNAUTHORIZED', 'device is unlinked');
    if (outcome === 'banned') throw new AppError('BANNED', 'this account is banned');
    if (outcome === 'reused') {
      this.d.log.warn({ userId, deviceId }, 'refresh token reuse: device refresh tokens revoked');
      throw new AppError('TOKEN_REUSED', 'refresh token was already used; sign in again');
    }
    const { userId: _u, deviceId: _d, ...rest } = outcome;
    return rest;
  }

  private async openSession(tx: Tx, userId: string, deviceId: number, version: number): Promise<Session> {
    const { token, hash } = this.d.tokens.newRefreshToken();
    const expiresAt = new Date(Date.now() + this.d.config.REFRESH_TOKEN_TTL_DAYS * 86_400_000);
    await this.d.repo.createRefreshToken(tx, { userId, deviceId, tokenHash: hash, expiresAt });
    const accessToken = await this.d.tokens.signAccess({ userId, deviceId, version });
    return { userId, deviceId, accessToken, refreshToken: token, expiresIn: this.d.tokens.accessTtlS };
  }

  /**
   * Every node hears when a session ends (logout, unlink, ban): the cached device states drop at
   * once, so a revoked token is refused on the next call everywhere, not after the cache's TTL.
   */
  async start(): Promise<void> {
    await this.d.broker.subscribe(SESSIONS_CHANGED_TOPIC, (userId) => this.dropAuthState(userId));
  }

  private dropAuthState(userId: string): void {
    this.authEpoch++;
    for (const key of this.authCache.keys()) if (key.startsWith(`${userId}:`)) this.authCache.delete(key);
  }

  /** The device's token version / ban state, cached for AUTH_CACHE_MS (0 = always read). */
  private async authState(userId: string, deviceId: number) {
    const key = `${userId}:${deviceId}`;
    const ttl = this.d.config.AUTH_CACHE_MS;
    const hit = this.authCache.get(key);
    if (hit && Date.now() - hit.at < ttl) return hit.state;
    const epoch = this.authEpoch;
    const state = await this.d.repo.deviceAuthState(userId, deviceId);
    if (ttl > 0 && state && epoch === this.authEpoch) {
      if (this.authCache.size >= 100_000) this.authCache.clear();
      this.authCache.set(key, { state, at: Date.now() });
    }
    return state;
  }

  private async sessionsChanged(userId: string): Promise<void> {
    this.dropAuthState(userId);
    await this.d.broker.publish(SESSIONS_CHANGED_TOPIC, userId).catch((err: unknown) => {
      this.d.log.warn({ err: String(err) }, 'could not publish a session change; other nodes catch up by TTL');
    });
  }

  /** Bearer token → caller, or the contract's 401/403. Every transport authenticates through here. */
  async authenticate(token: string | undefined): Promise<Actor> {
    if (!token) throw new AppError('UNAUTHORIZED', 'missing access token');
    const claims = await this.d.tokens.verifyAccess(token);
    const state = await this.authState(claims.userId, claims.deviceId);
    if (!state || state.tokenVersion !== claims.version) throw new AppError('UNAUTHORIZED', 'session ended');
    if (state.banned) throw new AppError('BANNED', 'this account is banned');
    const staleBefore = new Date(Date.now() - LAST_SEEN_RESOLUTION_MS);
    if (state.lastSeenAt < staleBefore) {
      state.lastSeenAt = new Date();
      this.d.repo.touchDevice(claims.userId, claims.deviceId, staleBefore).catch(() => {});
    }
    return { userId: claims.userId, deviceId: claims.deviceId };
  }

  async logout(actor: Actor): Promise<void> {
    await this.d.repo.transaction(async (tx) => {
      await this.d.repo.revokeDeviceRefreshTokens(actor.userId, actor.deviceId, tx);
      await this.d.repo.bumpTokenVersion(actor.userId, actor.deviceId, tx);
    });
    await this.sessionsChanged(actor.userId);
    await this.publishSession(actor.userId, actor.deviceId, {
      type: 'session.revoked',
      closeCode: 4401,
      reason: 'logged out',
    });
  }

  async me(actor: Actor): Promise<Profile> {
    const p = await this.d.repo.profile(actor.userId);
    if (!p) throw new AppError('UNAUTHORIZED', 'session ended');
    return {
      userId: p.id,
      username: p.username,
      phone: p.phone,
      devices: p.devices.map((d) => ({
        deviceId: d.deviceId,
        name: d.name,
        createdAt: d.createdAt.toISOString(),
        lastSeenAt: d.lastSeenAt.toISOString(),
      })),
    };
  }

  async unlinkDevice(actor: Actor, deviceId: number): Promise<void> {
    if (actor.deviceId !== 1 && actor.deviceId !== deviceId) {
      throw new AppError('FORBIDDEN', 'only device 1 may unlink other devices');
    }
    await this.removeDevice(actor.userId, deviceId);
  }

  /**
   * Unlinks a device of any account (the user's own unlink, or an admin's): keys, queue and tokens
   * go, every node drops it from its caches, and its sockets close with 4401. Device 1 holds the
   * account (its identity key's primary), so it is never unlinked.
   */
  async removeDevice(userId: string, deviceId: number): Promise<void> {
    if (deviceId === 1) throw new AppError('FORBIDDEN', 'device 1 cannot be unlinked');
    if (!(await this.d.repo.deleteDevice(userId, deviceId))) throw new AppError('NOT_FOUND', `no device ${deviceId}`);
    await this.sessionsChanged(userId);
    await this.d.devicesChanged(userId);
    await this.publishSession(userId, deviceId, {
      type: 'session.revoked',
      closeCode: 4401,
      reason: 'device unlinked',
    });
  }

  /** Admin-facing: every device of the account signs in again; devices stay linked. Returns how many. */
  async revokeAllSessions(userId: string): Promise<number> {
    const devices = await this.d.repo.revokeUserSessions(userId);
    if (!devices) throw new AppError('NOT_FOUND', 'no such user');
    await this.sessionsChanged(userId);
    for (const deviceId of devices) {
      await this.publishSession(userId, deviceId, {
        type: 'session.revoked',
        closeCode: 4401,
        reason: 'sessions revoked by an administrator',
      });
    }
    return devices.length;
  }

  /** Admin-facing: a banned account gets 403 BANNED everywhere and its sockets close with 4403. */
  async setBanned(userId: string, banned: boolean, adminId: string | null = null): Promise<void> {
    const devices = await this.d.repo.setBanned(userId, banned, adminId);
    if (!devices) throw new AppError('NOT_FOUND', 'no such user');
    await this.sessionsChanged(userId);
    if (!banned) return;
    for (const deviceId of devices) {
      await this.publishSession(userId, deviceId, {
        type: 'session.banned',
        closeCode: 4403,
        reason: 'account banned',
      });
    }
  }

  private async publishSession(userId: string, deviceId: number, e: SessionEvent): Promise<void> {
    await this.d.broker.publish(deviceTopic(userId, deviceId), JSON.stringify(e)).catch((err: unknown) => {
      // The token version already rejects the device's next call; sockets are only a faster path.
      this.d.log.warn({ err: String(err) }, 'could not publish session event');
    });
  }
}
