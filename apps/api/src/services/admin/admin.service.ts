import type { Logger } from 'pino';
import type { Config } from '../../config/index.js';
import type { AdminActor, AdminRole } from '../../domain/admin.js';
import { AppError } from '../../domain/errors.js';
import type { AdminRepo } from '../../infra/db/repos/admin.repo.js';
import type { AccountsService } from '../accounts/accounts.service.js';
import type { Passwords } from '../accounts/passwords.js';
import { authorize } from './admin.policy.js';
import type { CreateAdminInput } from './admin.schemas.js';
import { BUCKET_MS, summarize } from './node-stats.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PHONE = /^\+[1-9][0-9]{6,14}$/;

/** `+447700900123` → `+44•••••••••23`: enough to tell numbers apart on screen, not to call one. */
export function maskPhone(phone: string): string {
  if (phone.length <= 5) return '•'.repeat(phone.length);
  return `${phone.slice(0, 3)}${'•'.repeat(phone.length - 5)}${phone.slice(-2)}`;
}

/** LIKE treats % and _ as wildcards (and _ is legal in usernames): match them literally. */
const likeLiteral = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** `<ISO time>|<uuid>` keyset cursors; anything else is the caller's mistake, not a 500. */
function timeCursor(cursor: string | undefined): { at: Date; id: string } | null {
  if (!cursor) return null;
  const [iso, id] = cursor.split('|');
  const at = new Date(iso ?? '');
  if (!id || !UUID.test(id) || Number.isNaN(at.getTime())) throw new AppError('VALIDATION_FAILED', 'bad cursor');
  return { at, id };
}

function intCursor(cursor: string | undefined, max = Number.MAX_SAFE_INTEGER): number {
  if (!cursor) return 0;
  if (!/^\d{1,18}$/.test(cursor) || Number(cursor) > max) throw new AppError('VALIDATION_FAILED', 'bad cursor');
  return Number(cursor);
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

export interface AdminServiceDeps {
  config: Config;
  repo: AdminRepo;
  accounts: AccountsService;
  passwords: Passwords;
  log: Logger;
}

/**
 * What the console can see and do. Every method takes the authenticated admin first and checks the
 * role against ADMIN_POLICY before touching anything; user-facing effects (ban, unlink, revocation)
 * go through AccountsService, the same code a user's own request runs, so every node applies them.
 * Each action leaves an audit row naming the admin, the action and the target.
 */
export class AdminService {
  constructor(private readonly d: AdminServiceDeps) {}

  me(actor: AdminActor) {
    authorize(actor, 'me.read');
    return { id: actor.adminId, email: actor.email, role: actor.role };
  }

  private audit(actor: AdminActor, action: string, targetType: string, targetId: string, details?: object) {
    return this.d.repo.audit({
      actorType: 'admin',
      actorId: actor.adminId,
      action,
      targetType,
      targetId,
      ...(details ? { details: details as Record<string, string | number | boolean> } : {}),
    });
  }

  // ---- dashboard

  async dashboard(actor: AdminActor) {
    authorize(actor, 'dashboard.read');
    const now = Date.now();
    const windowMs = 600_000;
    const [totals, rows] = await Promise.all([
      this.d.repo.totals(),
      this.d.repo.nodeStatsSince(new Date(Math.floor(now / BUCKET_MS) * BUCKET_MS - windowMs)),
    ]);
    const live = summarize(rows, now, windowMs);
    return { at: new Date(now).toISOString(), ...totals, ...live };
  }

  // ---- users

  async searchUsers(actor: AdminActor, input: { q?: string | undefined; cursor?: string | undefined; limit: number }) {
    authorize(actor, 'users.read');
    const q = input.q?.trim();
    const match = !q
      ? null
      : UUID.test(q)
        ? { id: q.toLowerCase() }
        : PHONE.test(q)
          ? { phone: q }
          : { usernamePrefix: likeLiteral(q.toLowerCase()) };
    const before = timeCursor(input.cursor);
    const r = await this.d.repo.searchUsers(match, before && { createdAt: before.at, id: before.id }, input.limit);
    return {
      items: r.items.map((u) => ({
        id: u.id,
        username: u.username,
        phoneMasked: maskPhone(u.phone),
        verified: u.verified,
        banned: u.banned,
        createdAt: u.createdAt.toISOString(),
        devices: u._count.devices,
      })),
      nextCursor: r.nextCursor,
    };
  }

  async getUser(actor: AdminActor, userId: string) {
    authorize(actor, 'users.read');
    const u = await this.d.repo.findUser(userId);
    if (!u) throw new AppError('NOT_FOUND', 'no such user');
    const [stock, calls, attachments] = await Promise.all([
      this.d.repo.prekeyStock(userId),
      this.d.repo.userCalls(userId, 20),
      this.d.repo.attachmentUsage(userId),
    ]);
    const peers = await this.d.repo.usernames([
      ...new Set(calls.map((c) => (c.callerId === userId ? c.calleeId : c.callerId))),
    ]);
    return {
      id: u.id,
      username: u.username,
      phoneMasked: maskPhone(u.phone),
      verified: u.verified,
      banned: u.banned,
      createdAt: u.createdAt.toISOString(),
      devices: u.devices.map((dv) => ({
        deviceId: dv.deviceId,
        name: dv.name,
        createdAt: dv.createdAt.toISOString(),
        lastSeenAt: dv.lastSeenAt.toISOString(),
        prekeys: stock.get(dv.deviceId) ?? { ec: 0, kyber: 0 },
        signedPreKeyCreatedAt: iso(dv.signedPreKey?.createdAt),
      })),
      calls: calls.map((c) => {
        const outgoing = c.callerId === userId;
        const peerId = outgoing ? c.calleeId : c.callerId;
        return {
          id: c.id,
          direction: outgoing ? ('outgoing' as const) : ('incoming' as const),
          peerId,
          peerUsername: peers.get(peerId) ?? null,
          media: c.media,
          state: c.state,
          startedAt: c.startedAt.toISOString(),
          answeredAt: iso(c.answeredAt),
          endedAt: iso(c.endedAt),
          endReason: c.endReason,
        };
      }),
      attachments,
    };
  }

  async revealPhone(actor: AdminActor, userId: string) {
    authorize(actor, 'users.revealPhone');
    const u = await this.d.repo.userPhone(userId);
    if (!u) throw new AppError('NOT_FOUND', 'no such user');
    // The audit row is written before the number is returned: no reveal goes unrecorded.
    await this.audit(actor, 'user.phone_revealed', 'user', userId);
    return { phone: u.phone };
  }

  async setBanned(actor: AdminActor, userId: string, banned: boolean) {
    authorize(actor, banned ? 'users.ban' : 'users.unban');
    // Audited inside the ban's own transaction (AccountsRepo.setBanned).
    await this.d.accounts.setBanned(userId, banned, actor.adminId);
    return { ok: true as const };
  }

  async revokeSessions(actor: AdminActor, userId: string) {
    authorize(actor, 'users.revokeSessions');
    const devices = await this.d.accounts.revokeAllSessions(userId);
    await this.audit(actor, 'user.sessions_revoked', 'user', userId, { devices });
    return { ok: true as const, devices };
  }

  async unlinkDevice(actor: AdminActor, userId: string, deviceId: number) {
    authorize(actor, 'users.unlinkDevice');
    await this.d.accounts.removeDevice(userId, deviceId);
    await this.audit(actor, 'device.unlink', 'device', `${userId}.${deviceId}`, { userId, deviceId });
    return { ok: true as const };
  }

  // ---- keys

  async lowKeys(actor: AdminActor, input: { cursor?: string | undefined; limit: number }) {
    authorize(actor, 'keys.read');
    const watermark = this.d.config.PREKEY_LOW_WATERMARK;
    const r = await this.d.repo.lowKeyDevices(watermark, intCursor(input.cursor, 1_000_000), input.limit);
    return { watermark, ...r };
  }

  async identityChanges(actor: AdminActor, input: { cursor?: string | undefined; limit: number }) {
    authorize(actor, 'keys.read');
    const r = await this.d.repo.listAudit({
      action: 'keys.identity_changed',
      ...(input.cursor ? { before: BigInt(intCursor(input.cursor)) } : {}),
      limit: input.limit,
    });
    const names = await this.d.repo.usernames(r.items.flatMap((e) => (e.targetId ? [e.targetId] : [])));
    return {
      items: r.items.map((e) => {
        // Written by the keys service with actor `<userId>.<deviceId>` (the device that uploaded it).
        const dev = Number(e.actorId?.split('.')[1]);
        return {
          id: e.id.toString(),
          at: e.createdAt.toISOString(),
          userId: e.targetId ?? '',
          username: (e.targetId && names.get(e.targetId)) ?? null,
          deviceId: Number.isInteger(dev) ? dev : null,
        };
      }),
      nextCursor: r.nextCursor,
    };
  }

  // ---- calls

  /** Calls as the console lists them: both parties with their usernames, ISO times. */
  private async callViews<
    T extends {
      id: string;
      callerId: string;
      calleeId: string;
      media: string;
      state: string;
      startedAt: Date;
      answeredAt: Date | null;
    },
  >(calls: T[]) {
    const names = await this.d.repo.usernames([...new Set(calls.flatMap((c) => [c.callerId, c.calleeId]))]);
    return calls.map((c) => ({
      row: c,
      view: {
        id: c.id,
        callerId: c.callerId,
        callerUsername: names.get(c.callerId) ?? null,
        calleeId: c.calleeId,
        calleeUsername: names.get(c.calleeId) ?? null,
        media: c.media,
        startedAt: c.startedAt.toISOString(),
        answeredAt: iso(c.answeredAt),
      },
    }));
  }

  async activeCalls(actor: AdminActor) {
    authorize(actor, 'calls.read');
    const rows = await this.callViews(await this.d.repo.liveCalls());
    return { items: rows.map(({ row, view }) => ({ ...view, state: row.state as 'ringing' | 'connected' })) };
  }

  async recentCalls(actor: AdminActor, input: { cursor?: string | undefined; limit: number }) {
    authorize(actor, 'calls.read');
    const before = timeCursor(input.cursor);
    const r = await this.d.repo.endedCalls(before && { startedAt: before.at, id: before.id }, input.limit);
    const rows = await this.callViews(r.items);
    return {
      items: rows.map(({ row: c, view }) => ({
        ...view,
        state: c.state,
        endedAt: iso(c.endedAt),
        endReason: c.endReason,
        durationS: c.answeredAt && c.endedAt ? Math.round((c.endedAt.getTime() - c.answeredAt.getTime()) / 1000) : null,
      })),
      nextCursor: r.nextCursor,
    };
  }

  // ---- audit

  async auditList(
    actor: AdminActor,
    input: {
      action?: string | undefined;
      actorId?: string | undefined;
      targetId?: string | undefined;
      cursor?: string | undefined;
      limit: number;
    },
  ) {
    authorize(actor, 'audit.read');
    const r = await this.d.repo.listAudit({
      ...(input.action ? { action: input.action } : {}),
      ...(input.actorId ? { actorId: input.actorId } : {}),
      ...(input.targetId ? { targetId: input.targetId } : {}),
      ...(input.cursor ? { before: BigInt(intCursor(input.cursor)) } : {}),
      limit: input.limit,
    });
    const emails = await this.d.repo.adminEmails(
      r.items.flatMap((e) => (e.actorType === 'admin' && e.actorId && UUID.test(e.actorId) ? [e.actorId] : [])),
    );
    return {
      items: r.items.map((e) => ({
        id: e.id.toString(),
        at: e.createdAt.toISOString(),
        actorType: e.actorType as 'admin' | 'user' | 'system',
        actorId: e.actorId,
        actorEmail: (e.actorId && emails.get(e.actorId)) ?? null,
        action: e.action,
        targetType: e.targetType,
        targetId: e.targetId,
        details: e.details as unknown,
      })),
      nextCursor: r.nextCursor,
    };
  }

  // ---- admins

  async listAdmins(actor: AdminActor) {
    authorize(actor, 'admins.read');
    const now = Date.now();
    const rows = await this.d.repo.listAdmins();
    return {
      items: rows.map((a) => ({
        id: a.id,
        email: a.email,
        role: a.role,
        disabled: a.disabled,
        locked: a.lockedUntil !== null && a.lockedUntil.getTime() > now,
        createdAt: a.createdAt.toISOString(),
        lastLoginAt: iso(a.lastLoginAt),
      })),
    };
  }

  async createAdmin(actor: AdminActor, input: CreateAdminInput) {
    authorize(actor, 'admins.create');
    const id = await this.d.repo.createAdmin(input.email, await this.d.passwords.hash(input.password), input.role);
    if (!id) throw new AppError('CONFLICT', 'an admin with this email exists', { field: 'email' });
    await this.audit(actor, 'admin.create', 'admin', id, { email: input.email, role: input.role });
    return { id };
  }

  /** An owner cannot demote or disable themself: there is always an owner able to undo a mistake. */
  private notSelf(actor: AdminActor, adminId: string) {
    if (actor.adminId === adminId) throw new AppError('FORBIDDEN', 'an admin cannot change their own role or access');
  }

  async setRole(actor: AdminActor, adminId: string, role: AdminRole) {
    authorize(actor, 'admins.setRole');
    this.notSelf(actor, adminId);
    if (!(await this.d.repo.setRole(adminId, role))) throw new AppError('NOT_FOUND', 'no such admin');
    await this.audit(actor, 'admin.set_role', 'admin', adminId, { role });
    return { ok: true as const };
  }

  async setDisabled(actor: AdminActor, adminId: string, disabled: boolean) {
    authorize(actor, 'admins.setDisabled');
    this.notSelf(actor, adminId);
    if (!(await this.d.repo.setDisabled(adminId, disabled))) throw new AppError('NOT_FOUND', 'no such admin');
    await this.audit(actor, 'admin.set_disabled', 'admin', adminId, { disabled });
    return { ok: true as const };
  }
}
