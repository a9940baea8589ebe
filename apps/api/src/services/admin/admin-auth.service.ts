import { randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../../config/index.js';
import type { AdminActor, AdminRole } from '../../domain/admin.js';
import type { Origin } from '../../domain/actor.js';
import { AppError } from '../../domain/errors.js';
import type { AdminRepo } from '../../infra/db/repos/admin.repo.js';
import { hashRefreshToken } from '../accounts/tokens.js';
import type { Passwords } from '../accounts/passwords.js';
import type { Limits } from '../rate-limits.js';
import type { AdminTokens } from './admin-tokens.js';
import type { LoginInput } from './admin.schemas.js';

/** An 8-hour session refreshing every few minutes needs ~100; this leaves room for retries. */
const REFRESH_PER_SESSION = { name: 'admin-refresh-session', points: 300, durationS: 3_600 };
export const INITIAL_PASSWORD_FILE = 'admin-initial-password.txt';

export interface AdminSessionReply {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  admin: { id: string; email: string; role: AdminRole };
}

export interface AdminAuthDeps {
  config: Config;
  repo: AdminRepo;
  passwords: Passwords;
  tokens: AdminTokens;
  limits: Limits;
  log: Logger;
}

/**
 * Console sign-in. Admins are their own accounts (the admins table), never users: the access token
 * has its own audience and key, names a session row, and that row and the admin's role and disabled
 * flag are read on every call, so logout, disable and demotion take effect at once on every node.
 */
export class AdminAuthService {
  private readonly loginIp;

  constructor(private readonly d: AdminAuthDeps) {
    this.loginIp = { name: 'admin-login-ip', ...d.config.RATE_LIMIT_ADMIN_LOGIN_IP };
  }

  async login(origin: Origin, input: LoginInput): Promise<AdminSessionReply> {
    // Failed attempts count per client IP (successful sign-ins do not: every admin signing in through
    // one console shares its address); the per-account lockout below stops guessing at one account.
    await this.d.limits.check(this.loginIp, origin.ip);
    const admin = await this.d.repo.findAdminByEmail(input.email);
    if (!admin) {
      // Same work as a real check: an unknown email is not told apart by timing.
      await this.d.passwords.burn(input.password);
      await this.d.limits.fail(this.loginIp, origin.ip);
      throw new AppError('INVALID_CREDENTIALS', 'wrong email or password');
    }
    const now = Date.now();
    // A locked account is not even checked, so guessing cannot continue while it is locked.
    if (admin.lockedUntil && admin.lockedUntil.getTime() > now) throw this.locked(admin.lockedUntil);
    if (!(await this.d.passwords.verify(admin.passwordHash, input.password))) {
      await this.d.limits.fail(this.loginIp, origin.ip);
      const lockedUntil = await this.d.repo.recordFailedLogin(
        admin.id,
        this.d.config.ADMIN_LOCKOUT_FAILURES,
        this.d.config.ADMIN_LOCKOUT_S * 1000,
      );
      await this.d.repo.audit({
        actorType: 'system',
        actorId: null,
        action: 'admin.login_failed',
        targetType: 'admin',
        targetId: admin.id,
        details: { ip: origin.ip, locked: lockedUntil !== null },
      });
      if (lockedUntil) {
        this.d.log.warn({ adminId: admin.id }, 'admin account locked after repeated wrong passwords');
        throw this.locked(lockedUntil);
      }
      throw new AppError('INVALID_CREDENTIALS', 'wrong email or password');
    }
    // Told only to someone who knows the password.
    if (admin.disabled) throw new AppError('FORBIDDEN', 'this admin account is disabled');
    await this.d.repo.recordLogin(admin.id);
    const reply = await this.openSession(admin);
    await this.d.repo.audit({
      actorType: 'admin',
      actorId: admin.id,
      action: 'admin.login',
      targetType: 'admin',
      targetId: admin.id,
      details: { ip: origin.ip },
    });
    return reply;
  }

  private locked(until: Date): AppError {
    const retryAfter = Math.max(1, Math.ceil((until.getTime() - Date.now()) / 1000));
    return new AppError(
      'RATE_LIMITED',
      'too many wrong passwords: this admin account is locked for a while',
      { retryAfter },
      retryAfter,
    );
  }

  private async openSession(admin: { id: string; email: string; role: AdminRole }): Promise<AdminSessionReply> {
    const refreshToken = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + this.d.config.ADMIN_SESSION_TTL_S * 1000);
    const sessionId = await this.d.repo.createSession(admin.id, hashRefreshToken(refreshToken), expiresAt);
    return this.reply(admin, sessionId, refreshToken);
  }

  private async reply(admin: { id: string; email: string; role: AdminRole }, sessionId: string, refreshToken: string) {
    return {
      accessToken: await this.d.tokens.sign({ adminId: admin.id, sessionId }),
      refreshToken,
      expiresIn: this.d.tokens.accessTtlS,
      admin: { id: admin.id, email: admin.email, role: admin.role },
    };
  }

  /** Rotates the refresh token (single use); the session's absolute lifetime never grows. */
  async refresh(origin: Origin, refreshToken: string): Promise<AdminSessionReply> {
    // Every console request reaches the API from the console's own address, so refreshes are limited
    // per session, and only unknown tokens count against the address (like failed sign-ins).
    await this.d.limits.check(this.loginIp, origin.ip);
    const hash = hashRefreshToken(refreshToken);
    const session = await this.d.repo.findSessionByToken(hash);
    if (!session) {
      await this.d.limits.fail(this.loginIp, origin.ip);
      await this.detectReuse(hash);
      throw new AppError('UNAUTHORIZED', 'unknown admin refresh token');
    }
    await this.d.limits.consume(REFRESH_PER_SESSION, session.id);
    if (session.revokedAt || session.expiresAt.getTime() <= Date.now())
      throw new AppError('UNAUTHORIZED', 'admin session ended');
    const state = await this.d.repo.sessionWithAdmin(session.id);
    if (!state || state.admin.disabled) throw new AppError('UNAUTHORIZED', 'admin session ended');
    const next = randomBytes(32).toString('base64url');
    if (!(await this.d.repo.rotateSession(session.id, hash, hashRefreshToken(next)))) {
      throw new AppError('UNAUTHORIZED', 'admin refresh token already used');
    }
    return this.reply(state.admin, session.id, next);
  }

  /** An old refresh token coming back after the grace: someone holds a copy, so the session ends. */
  private async detectReuse(hash: Uint8Array<ArrayBuffer>): Promise<void> {
    const replaced = await this.d.repo.findSessionByPreviousToken(hash);
    if (!replaced || replaced.revokedAt) return;
    if (replaced.rotatedAt && Date.now() - replaced.rotatedAt.getTime() < this.d.config.ADMIN_REFRESH_GRACE_MS) return;
    await this.d.repo.revokeSession(replaced.id);
    await this.d.repo.audit({
      actorType: 'system',
      actorId: null,
      action: 'admin.refresh_reused',
      targetType: 'admin',
      targetId: replaced.adminId,
    });
    this.d.log.warn({ adminId: replaced.adminId }, 'admin refresh token reuse: session ended');
    throw new AppError('TOKEN_REUSED', 'refresh token was already used; sign in again');
  }

  /** Bearer token → admin, or 401. Never accepts a user token (other audience and key). */
  async authenticate(token: string | undefined): Promise<AdminActor> {
    if (!token) throw new AppError('UNAUTHORIZED', 'missing admin token');
    const claims = await this.d.tokens.verify(token);
    const s = await this.d.repo.sessionWithAdmin(claims.sessionId);
    if (!s || s.revokedAt || s.expiresAt.getTime() <= Date.now() || s.admin.id !== claims.adminId || s.admin.disabled) {
      throw new AppError('UNAUTHORIZED', 'admin session ended');
    }
    return { adminId: s.admin.id, sessionId: claims.sessionId, email: s.admin.email, role: s.admin.role };
  }

  async logout(actor: AdminActor): Promise<void> {
    await this.d.repo.revokeSession(actor.sessionId);
    await this.d.repo.audit({
      actorType: 'admin',
      actorId: actor.adminId,
      action: 'admin.logout',
      targetType: 'admin',
      targetId: actor.adminId,
    });
  }

  /**
   * First start: with no admin at all, creates the owner ADMIN_INITIAL_EMAIL. Its password is
   * ADMIN_INITIAL_PASSWORD, or a random one written to <DATA_DIR>/admin-initial-password.txt (0600).
   * The log names the file, never the password. Concurrent first starts: one node creates it.
   */
  async ensureInitialOwner(): Promise<void> {
    if ((await this.d.repo.countAdmins()) > 0) return;
    const { config, log } = this.d;
    const generated = !config.ADMIN_INITIAL_PASSWORD;
    const password = config.ADMIN_INITIAL_PASSWORD ?? randomBytes(18).toString('base64url');
    const email = config.ADMIN_INITIAL_EMAIL.toLowerCase();
    if (!(await this.d.repo.createFirstOwner(email, await this.d.passwords.hash(password)))) return;
    if (!generated) {
      log.info({ email }, 'created the initial console owner with ADMIN_INITIAL_PASSWORD');
      return;
    }
    const file = join(config.dataDir, INITIAL_PASSWORD_FILE);
    await mkdir(config.dataDir, { recursive: true });
    await writeFile(file, `${password}\n`, { mode: 0o600 });
    await chmod(file, 0o600);
    log.info({ email, passwordFile: file }, 'created the initial console owner; its password is in passwordFile');
  }
}
