import { createHmac, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../../config/index.js';
import type { Actor } from '../../domain/actor.js';
import { AppError } from '../../domain/errors.js';
import { callDeviceTopic } from '../../domain/topics.js';
import type { Broker } from '../../infra/broker/broker.js';
import type { CallRow, CallsRepo } from '../../infra/db/repos/calls.repo.js';
import type { Kv } from '../../infra/kv/kv.js';
import type { Metrics } from '../../observability/metrics.js';
import type { Limits } from '../rate-limits.js';
import type { CallView, EndReason, From, HistoryReply, ServerCallFrame, TurnReply } from './calls.schemas.js';
import { type CallBusEvent, presenceKey, SignalSession } from './signal-session.js';

export interface CallsDeps {
  config: Config;
  repo: CallsRepo;
  broker: Broker;
  kv: Kv;
  limits: Limits;
  metrics: Metrics;
  log: Logger;
}

type Role = 'caller' | 'callee';

const from = (a: Actor): From => ({ userId: a.userId, deviceId: a.deviceId });

/**
 * The call engine behind every transport (signaling WebSocket, REST, tRPC). State lives where every
 * node sees it: the call record in PostgreSQL (each transition a conditional UPDATE, so the first
 * of two racing nodes wins and the other learns it lost), signaling presence in Kv, and frames
 * travel to the device's session on whichever node holds it through the Broker. Timers are an
 * optimisation of the node that took the offer; the periodic SQL sweep on every node is what
 * guarantees that overdue calls end even when that node died.
 */
export class CallsService {
  private readonly offerRule;
  private readonly ringTimers = new Map<string, NodeJS.Timeout>();
  private readonly graceTimers = new Set<NodeJS.Timeout>();
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly d: CallsDeps) {
    this.offerRule = { name: 'call-offer', ...d.config.RATE_LIMIT_CALL_OFFER };
  }

  /** Starts the periodic sweep of overdue ringing calls and lost connected parties. */
  start(): void {
    this.sweeper = setInterval(() => {
      this.sweep().catch((e: unknown) => this.d.log.warn({ err: String(e) }, 'call sweep failed'));
    }, this.d.config.CALL_SWEEP_INTERVAL_S * 1000);
    this.sweeper.unref();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const t of this.ringTimers.values()) clearTimeout(t);
    for (const t of this.graceTimers) clearTimeout(t);
    this.ringTimers.clear();
    this.graceTimers.clear();
  }

  // ---- signaling sessions -------------------------------------------------------------------

  private get presenceTtlMs(): number {
    // Three heartbeats: a socket that stopped answering is closed after two missed pings anyway.
    return this.d.config.WS_PING_INTERVAL_S * 3000;
  }

  async openSession(actor: Actor): Promise<SignalSession> {
    const s = new SignalSession(actor, {
      broker: this.d.broker,
      kv: this.d.kv,
      presenceTtlMs: this.presenceTtlMs,
      onDrop: (session) => {
        this.onSessionDrop(session).catch((e: unknown) =>
          this.d.log.warn({ err: String(e) }, 'call cleanup after socket drop failed'),
        );
      },
    });
    await s.open();
    // The device is back: its connected calls leave their grace period.
    await this.d.repo.partyBack(actor.userId, actor.deviceId);
    return s;
  }

  /**
   * A device's signaling session ended (socket closed or missed its heartbeats). Ringing calls it
   * takes part in end (`disconnected`): as the caller, at once; as a rung callee device, like a
   * decline (the call ends when no rung device is left). Connected calls get a grace period of
   * CALL_RECONNECT_GRACE_S: media flows peer to peer and may well survive a signaling blip, so the
   * call ends as `disconnected` only if the device does not open a new session within it.
   */
  private async onSessionDrop(session: SignalSession): Promise<void> {
    const { userId, deviceId } = session.actor;
    const key = presenceKey(userId, deviceId);
    const current = await this.d.kv.get(key);
    if (current !== null && current !== session.presence) return; // a newer session took over
    if (current === session.presence) await this.d.kv.del(key);
    if (this.closed) return;
    const calls = await this.d.repo.liveCallsOfDevice(userId, deviceId);
    for (const call of calls) {
      const role = this.roleOf(call, session.actor);
      if (call.state === 'ringing' && role === 'caller') {
        const ended = await this.d.repo.end(call.id, 'disconnected', ['ringing']);
        if (ended) await this.notifyEnd(ended, 'disconnected');
      } else if (call.state === 'ringing' && role === 'callee') {
        await this.declineAs(session.actor, call, 'disconnected');
      } else if (call.state === 'connected') {
        if (this.d.config.CALL_RECONNECT_GRACE_S === 0) {
          const ended = await this.d.repo.end(call.id, 'disconnected', ['connected']);
          if (ended) await this.notifyEnd(ended, 'disconnected');
          continue;
        }
        await this.d.repo.markPartyLost(call.id);
        // A new session may have opened (and cleared the loss) between the presence check above and
        // this mark: presence is set before openSession clears, so reading it now closes the race.
        const now = await this.d.kv.get(key);
        if (now !== null && now !== session.presence) {
          await this.d.repo.partyBack(userId, deviceId);
          continue;
        }
        const t = setTimeout(
          () => {
            this.graceTimers.delete(t);
            this.sweepLost().catch(() => {});
          },
          this.d.config.CALL_RECONNECT_GRACE_S * 1000 + 100,
        );
        t.unref();
        this.graceTimers.add(t);
      }
    }
  }

  private async onlineDevices(userId: string): Promise<number[]> {
    const ids = await this.d.repo.deviceIds(userId);
    const present = await Promise.all(ids.map(async (id) => ((await this.d.kv.get(presenceKey(userId, id))) ? id : 0)));
    return present.filter((id) => id > 0);
  }

  private async deliver(userId: string, deviceId: number, frame: ServerCallFrame): Promise<void> {
    await this.d.broker
      .publish(callDeviceTopic(userId, deviceId), JSON.stringify({ type: 'frame', frame } satisfies CallBusEvent))
      .catch((err: unknown) => this.d.log.warn({ err: String(err) }, 'call frame publish failed'));
  }

  // ---- the state machine --------------------------------------------------------------------

  async offer(
    actor: Actor,
    input: { callId?: string; to: string; sdp: string; media: 'audio' | 'video' },
  ): Promise<{ callId: string }> {
    await this.d.limits.consume(this.offerRule, actor.userId);
    const callId = input.callId ?? randomUUID();
    if (input.to === actor.userId) throw new AppError('VALIDATION_FAILED', 'to: cannot call yourself');
    if (!(await this.d.repo.userExists(input.to))) throw new AppError('NOT_FOUND', 'no such user');
    const rung = await this.onlineDevices(input.to);
    const outcome = await this.d.repo.placeOffer({
      id: callId,
      callerId: actor.userId,
      callerDeviceId: actor.deviceId,
      calleeId: input.to,
      media: input.media,
      rungDevices: rung,
    });
    if (outcome.kind === 'duplicate') throw new AppError('CONFLICT', 'callId: already used; pick a new UUID');
    if (outcome.kind === 'ended') {
      this.d.metrics.callOutcomes.inc({ reason: outcome.reason });
      if (outcome.reason === 'glare') {
        // Both sides learn that this call lost to the crossing one.
        const frame: ServerCallFrame = { type: 'hangup', callId, reason: 'glare' };
        await this.deliver(actor.userId, actor.deviceId, frame);
        for (const id of rung) await this.deliver(input.to, id, frame);
      } else {
        // busy/unavailable go to the caller only: the callee is not disturbed.
        await this.deliver(actor.userId, actor.deviceId, { type: outcome.reason, callId });
      }
      return { callId };
    }
    if (outcome.glareEnded) await this.notifyEnd(outcome.glareEnded, 'glare', undefined, true);
    const frame: ServerCallFrame = { type: 'offer', callId, sdp: input.sdp, media: input.media, from: from(actor) };
    for (const id of rung) await this.deliver(input.to, id, frame);
    this.armRingTimer(callId);
    return { callId };
  }

  private armRingTimer(callId: string): void {
    const t = setTimeout(() => {
      this.ringTimers.delete(callId);
      void (async () => {
        const ended = await this.d.repo.end(callId, 'timeout', ['ringing']);
        if (ended) await this.notifyEnd(ended, 'timeout');
      })().catch((e: unknown) => this.d.log.warn({ err: String(e) }, 'ring timeout failed'));
    }, this.d.config.CALL_RING_TIMEOUT_S * 1000);
    t.unref();
    this.ringTimers.set(callId, t);
  }

  private clearRingTimer(callId: string): void {
    const t = this.ringTimers.get(callId);
    if (t) clearTimeout(t);
    this.ringTimers.delete(callId);
  }

  private roleOf(call: CallRow, actor: Actor): Role | null {
    if (actor.userId === call.callerId && actor.deviceId === call.callerDeviceId) return 'caller';
    if (actor.userId === call.calleeId) {
      if (call.state === 'ringing') return 'callee';
      if (call.answeredDeviceId === actor.deviceId) return 'callee';
    }
    return null;
  }

  /**
   * The call a frame refers to, if the sender may signal on it. Not a party of it at all (or no
   * such call): 404, the same answer either way so callIds cannot be probed. Ended: 409. The right
   * user on a device that is not in the call (the caller's other devices; the callee's devices after
   * another one answered): 403.
   */
  private async callFor(actor: Actor, callId: string): Promise<{ call: CallRow; role: Role }> {
    const call = await this.d.repo.find(callId);
    if (!call || (call.callerId !== actor.userId && call.calleeId !== actor.userId)) {
      throw new AppError('NOT_FOUND', 'no such call');
    }
    if (call.state === 'ended') throw new AppError('CONFLICT', `call has ended (${call.endReason ?? 'ended'})`);
    const role = this.roleOf(call, actor);
    if (!role) {
      throw new AppError(
        'FORBIDDEN',
        call.state === 'connected' ? 'the call was answered on another device' : 'this device is not in the call',
      );
    }
    return { call, role };
  }

  async answer(actor: Actor, callId: string, sdp: string): Promise<void> {
    const { call, role } = await this.callFor(actor, callId);
    if (role !== 'callee') throw new AppError('FORBIDDEN', 'only the callee answers');
    if (call.state !== 'ringing') throw new AppError('CONFLICT', 'the call is already connected');
    const won = await this.d.repo.answer(callId, actor.userId, actor.deviceId);
    if (!won) {
      const now = await this.d.repo.find(callId);
      throw new AppError(
        'CONFLICT',
        now?.state === 'connected' ? 'the call was answered on another device' : 'call has ended',
      );
    }
    this.clearRingTimer(callId);
    if (won.answeredAt) {
      this.d.metrics.callRingToAnswer.observe((won.answeredAt.getTime() - won.startedAt.getTime()) / 1000);
    }
    await this.deliver(won.callerId, won.callerDeviceId, { type: 'answer', callId, sdp, from: from(actor) });
    for (const id of won.rungDevices) {
      if (id !== actor.deviceId) await this.deliver(won.calleeId, id, { type: 'answered-elsewhere', callId });
    }
  }

  /** Where the sender's ice/ringing goes: the other side's device(s) in the call. */
  private peersOf(call: CallRow, role: Role): Array<{ userId: string; deviceId: number }> {
    if (role === 'callee') return [{ userId: call.callerId, deviceId: call.callerDeviceId }];
    if (call.state === 'connected' && call.answeredDeviceId !== null)
      return [{ userId: call.calleeId, deviceId: call.answeredDeviceId }];
    return call.rungDevices
      .filter((id) => !call.declinedDevices.includes(id))
      .map((deviceId) => ({ userId: call.calleeId, deviceId }));
  }

  async ice(actor: Actor, callId: string, candidates: string[]): Promise<void> {
    const { call, role } = await this.callFor(actor, callId);
    for (const peer of this.peersOf(call, role)) {
      for (const candidate of candidates) {
        await this.deliver(peer.userId, peer.deviceId, { type: 'ice', callId, candidate, from: from(actor) });
      }
    }
  }

  async ringing(actor: Actor, callId: string): Promise<void> {
    const { call, role } = await this.callFor(actor, callId);
    if (role !== 'callee') throw new AppError('FORBIDDEN', 'only the callee rings');
    if (call.state !== 'ringing') return; // harmless once connected
    await this.deliver(call.callerId, call.callerDeviceId, { type: 'ringing', callId, from: from(actor) });
  }

  /** `reject` / `busy` from a ringing callee device; from the caller they are a hangup. */
  async decline(actor: Actor, callId: string, how: 'reject' | 'busy'): Promise<void> {
    const { call, role } = await this.callFor(actor, callId);
    if (role === 'caller' || call.state !== 'ringing') return this.hangup(actor, callId);
    await this.declineAs(actor, call, how);
  }

  private async declineAs(actor: Actor, call: CallRow, how: 'reject' | 'busy' | 'disconnected'): Promise<void> {
    const { ended } = await this.d.repo.decline(call.id, actor.deviceId, how);
    if (!ended) return;
    this.clearRingTimer(call.id);
    const reason = (ended.endReason ?? how) as EndReason;
    this.d.metrics.callOutcomes.inc({ reason });
    const frame: ServerCallFrame =
      reason === 'reject' || reason === 'busy'
        ? { type: reason, callId: call.id, from: from(actor) }
        : { type: 'hangup', callId: call.id, reason, from: from(actor) };
    await this.deliver(ended.callerId, ended.callerDeviceId, frame);
  }

  async hangup(actor: Actor, callId: string, reason: 'hangup' | 'reject' | 'busy' = 'hangup'): Promise<void> {
    if (reason !== 'hangup') return this.decline(actor, callId, reason);
    await this.callFor(actor, callId);
    const ended = await this.d.repo.end(callId, 'hangup');
    if (!ended) throw new AppError('CONFLICT', 'call has ended');
    await this.notifyEnd(ended, 'hangup', actor);
  }

  /**
   * Tells every party of an ended call (except the one who ended it): the caller device, and the
   * answered device or — while it rang — every rung device that had not declined.
   */
  private async notifyEnd(call: CallRow, reason: EndReason, by?: Actor, everyone = false): Promise<void> {
    this.clearRingTimer(call.id);
    this.d.metrics.callOutcomes.inc({ reason });
    const targets: Array<{ userId: string; deviceId: number }> = [
      { userId: call.callerId, deviceId: call.callerDeviceId },
    ];
    if (call.answeredDeviceId !== null) targets.push({ userId: call.calleeId, deviceId: call.answeredDeviceId });
    else {
      for (const id of call.rungDevices) {
        if (everyone || !call.declinedDevices.includes(id)) targets.push({ userId: call.calleeId, deviceId: id });
      }
    }
    const frame: ServerCallFrame = { type: 'hangup', callId: call.id, reason, ...(by ? { from: from(by) } : {}) };
    for (const t of targets) {
      if (by && t.userId === by.userId && t.deviceId === by.deviceId) continue;
      await this.deliver(t.userId, t.deviceId, frame);
    }
  }

  /** Every node runs this: overdue ringing calls end as timeout, lost connected parties as disconnected. */
  async sweep(now = new Date()): Promise<void> {
    if (this.closed) return;
    const overdue = await this.d.repo.endOverdueRinging(
      new Date(now.getTime() - this.d.config.CALL_RING_TIMEOUT_S * 1000),
    );
    for (const call of overdue) await this.notifyEnd(call, 'timeout');
    // A node that died took its sockets' close handlers with it: a connected party whose presence
    // expired is treated as a dropped socket.
    for (const call of await this.d.repo.connectedWithoutLoss()) {
      const caller = await this.d.kv.get(presenceKey(call.callerId, call.callerDeviceId));
      const callee =
        call.answeredDeviceId === null ? 'x' : await this.d.kv.get(presenceKey(call.calleeId, call.answeredDeviceId));
      if (caller === null || callee === null) await this.d.repo.markPartyLost(call.id);
    }
    await this.sweepLost(now);
  }

  private async sweepLost(now = new Date()): Promise<void> {
    if (this.closed) return;
    const lost = await this.d.repo.endLostParties(
      new Date(now.getTime() - this.d.config.CALL_RECONNECT_GRACE_S * 1000),
    );
    for (const call of lost) await this.notifyEnd(call, 'disconnected');
  }

  // ---- records --------------------------------------------------------------------------------

  private view(call: CallRow, actor: Actor): CallView {
    // The callee's other devices saw the call answered elsewhere.
    const elsewhere =
      call.state === 'ended' &&
      actor.userId === call.calleeId &&
      call.answeredDeviceId !== null &&
      call.answeredDeviceId !== actor.deviceId;
    return {
      callId: call.id,
      callerId: call.callerId,
      calleeId: call.calleeId,
      media: call.media,
      state: call.state,
      startedAt: call.startedAt.toISOString(),
      answeredAt: call.answeredAt?.toISOString() ?? null,
      endedAt: call.endedAt?.toISOString() ?? null,
      endReason: elsewhere ? 'answered-elsewhere' : ((call.endReason as EndReason | null) ?? null),
    };
  }

  async get(actor: Actor, callId: string): Promise<CallView> {
    const call = await this.d.repo.find(callId);
    if (!call || (call.callerId !== actor.userId && call.calleeId !== actor.userId)) {
      throw new AppError('NOT_FOUND', 'no such call');
    }
    return this.view(call, actor);
  }

  async history(actor: Actor, cursor: string | undefined, limit: number): Promise<HistoryReply> {
    let before: { startedAt: Date; id: string } | null = null;
    if (cursor !== undefined) {
      const m = /^(\d{1,15})_([0-9a-f-]{36})$/.exec(Buffer.from(cursor, 'base64url').toString());
      if (!m) throw new AppError('VALIDATION_FAILED', 'cursor: invalid');
      before = { startedAt: new Date(Number(m[1])), id: m[2] as string };
    }
    const rows = await this.d.repo.history(actor.userId, before, limit + 1);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      calls: page.map((c) => this.view(c, actor)),
      nextCursor:
        rows.length > limit && last
          ? Buffer.from(`${last.startedAt.getTime()}_${last.id}`).toString('base64url')
          : null,
    };
  }

  /** coturn's use-auth-secret (TURN REST API) credentials: valid until `expiry`, bound to the user. */
  turnCredentials(actor: Actor, now = Date.now()): TurnReply {
    const secret = this.d.config.TURN_SECRET;
    if (!secret) throw new AppError('UNAVAILABLE', 'TURN is not configured');
    const ttl = this.d.config.TURN_TTL_S;
    const username = `${Math.floor(now / 1000) + ttl}:${actor.userId}`;
    const credential = createHmac('sha1', secret).update(username).digest('base64');
    return { urls: this.d.config.TURN_URLS, username, credential, ttl };
  }

  /** Retention: call records older than CALL_RETENTION_DAYS, in bounded batches. */
  async purgeExpired(now = new Date(), batch = 1_000): Promise<number> {
    const before = new Date(now.getTime() - this.d.config.CALL_RETENTION_DAYS * 86_400_000);
    let total = 0;
    for (let round = 0; round < 1_000; round++) {
      const n = await this.d.repo.purge(before, batch);
      total += n;
      if (n < batch) break;
    }
    return total;
  }
}
