import type { PrismaClient } from '@snaptalker/db';

export type CallState = 'ringing' | 'connected' | 'ended';
export type CallMedia = 'audio' | 'video';

export interface CallRow {
  id: string;
  callerId: string;
  callerDeviceId: number;
  calleeId: string;
  answeredDeviceId: number | null;
  media: CallMedia;
  state: CallState;
  startedAt: Date;
  answeredAt: Date | null;
  endedAt: Date | null;
  endReason: string | null;
  rungDevices: number[];
  declinedDevices: number[];
  rejected: boolean;
}

const callSelect = {
  id: true,
  callerId: true,
  callerDeviceId: true,
  calleeId: true,
  answeredDeviceId: true,
  media: true,
  state: true,
  startedAt: true,
  answeredAt: true,
  endedAt: true,
  endReason: true,
  rungDevices: true,
  declinedDevices: true,
  rejected: true,
} as const;

/** The column list of RETURNING clauses, aliased to CallRow's field names. */
const RETURNING = `id, caller_id AS "callerId", caller_device_id AS "callerDeviceId", callee_id AS "calleeId",
  answered_device_id AS "answeredDeviceId", media::text AS media, state::text AS state, started_at AS "startedAt",
  answered_at AS "answeredAt", ended_at AS "endedAt", end_reason AS "endReason",
  coalesce(rung_devices, '{}') AS "rungDevices", coalesce(declined_devices, '{}') AS "declinedDevices", rejected`;

export interface NewCall {
  id: string;
  callerId: string;
  callerDeviceId: number;
  calleeId: string;
  media: CallMedia;
  rungDevices: number[];
}

export type OfferOutcome =
  | { kind: 'ringing'; call: CallRow; glareEnded: CallRow | null }
  | { kind: 'ended'; call: CallRow; reason: 'busy' | 'unavailable' | 'glare' }
  | { kind: 'duplicate' };

/**
 * Call records. PostgreSQL is the truth of a call's state: every transition is one conditional
 * UPDATE (`WHERE state = …`), so two nodes racing on the same call cannot both win.
 */
export class CallsRepo {
  constructor(private readonly prisma: PrismaClient) {}

  async userExists(userId: string): Promise<boolean> {
    return (await this.prisma.user.count({ where: { id: userId, verified: true, banned: false } })) > 0;
  }

  async deviceIds(userId: string): Promise<number[]> {
    const rows = await this.prisma.device.findMany({ where: { userId }, select: { deviceId: true } });
    return rows.map((r) => r.deviceId);
  }

  find(id: string): Promise<CallRow | null> {
    return this.prisma.call.findUnique({ where: { id }, select: callSelect }) as Promise<CallRow | null>;
  }

  /**
   * The offer, decided under advisory locks on both users (taken in a fixed order, so no deadlock):
   * of two offers involving the same user, one sees the other's row. In that order: a callId already
   * used → duplicate; the callee calling the caller at the same moment (glare) → the lower callId
   * survives; the callee in another ringing/connected call → busy; no rung device → unavailable.
   */
  async placeOffer(c: NewCall): Promise<OfferOutcome> {
    return this.prisma.$transaction(async (tx) => {
      const [lo, hi] = [c.callerId, c.calleeId].sort();
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`call-user:${lo}`}))`;
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`call-user:${hi}`}))`;
      if (await tx.call.findUnique({ where: { id: c.id }, select: { id: true } })) return { kind: 'duplicate' };
      const active = (await tx.call.findMany({
        where: { state: { in: ['ringing', 'connected'] }, OR: [{ callerId: c.calleeId }, { calleeId: c.calleeId }] },
        select: callSelect,
      })) as CallRow[];
      let glareEnded: CallRow | null = null;
      const crossing = active.filter(
        (a) => a.state === 'ringing' && a.callerId === c.calleeId && a.calleeId === c.callerId,
      );
      for (const other of crossing) {
        if (other.id < c.id) return { kind: 'ended', reason: 'glare', call: await this.insertEnded(tx, c, 'glare') };
      }
      for (const other of crossing) {
        const [ended] = await tx.$queryRawUnsafe<CallRow[]>(
          `UPDATE calls SET state = 'ended', end_reason = 'glare', ended_at = now()
             WHERE id = $1::uuid AND state = 'ringing' RETURNING ${RETURNING}`,
          other.id,
        );
        glareEnded = ended ?? null;
      }
      const crossingIds = new Set(crossing.map((x) => x.id));
      if (active.some((a) => !crossingIds.has(a.id))) {
        return { kind: 'ended', reason: 'busy', call: await this.insertEnded(tx, c, 'busy') };
      }
      if (c.rungDevices.length === 0) {
        return { kind: 'ended', reason: 'unavailable', call: await this.insertEnded(tx, c, 'unavailable') };
      }
      const call = (await tx.call.create({
        data: { ...c, state: 'ringing' },
        select: callSelect,
      })) as CallRow;
      return { kind: 'ringing', call, glareEnded };
    });
  }

  private async insertEnded(
    tx: Parameters<Parameters<PrismaClient['$transaction']>[0]>[0],
    c: NewCall,
    reason: string,
  ): Promise<CallRow> {
    return (await tx.call.create({
      data: { ...c, rungDevices: [], state: 'ended', endReason: reason, endedAt: new Date() },
      select: callSelect,
    })) as CallRow;
  }

  /** ringing → connected by one callee device; null when the call was not ringing any more. */
  async answer(id: string, calleeId: string, deviceId: number): Promise<CallRow | null> {
    const [row] = await this.prisma.$queryRawUnsafe<CallRow[]>(
      `UPDATE calls SET state = 'connected', answered_device_id = $3, answered_at = now()
         WHERE id = $1::uuid AND callee_id = $2::uuid AND state = 'ringing' RETURNING ${RETURNING}`,
      id,
      calleeId,
      deviceId,
    );
    return row ?? null;
  }

  /** Any live state → ended; null when another node (or frame) ended it first. */
  async end(id: string, reason: string, from: CallState[] = ['ringing', 'connected']): Promise<CallRow | null> {
    const [row] = await this.prisma.$queryRawUnsafe<CallRow[]>(
      `UPDATE calls SET state = 'ended', end_reason = $2, ended_at = now()
         WHERE id = $1::uuid AND state::text = ANY($3::text[]) RETURNING ${RETURNING}`,
      id,
      reason,
      from,
    );
    return row ?? null;
  }

  /**
   * One callee device declines (reject, busy, or its socket dropped). Appending is atomic (row lock);
   * the end is a second conditional UPDATE that only matches once every rung device declined, so of
   * two devices declining at once on two nodes, the later one ends the call and the other does not.
   */
  async decline(
    id: string,
    deviceId: number,
    how: 'reject' | 'busy' | 'disconnected',
  ): Promise<{ ended: CallRow | null; row: CallRow | null }> {
    const [row] = await this.prisma.$queryRawUnsafe<CallRow[]>(
      `UPDATE calls SET declined_devices = array_append(coalesce(declined_devices, '{}'), $2),
                        rejected = rejected OR $3
         WHERE id = $1::uuid AND state = 'ringing' AND NOT ($2 = ANY(coalesce(declined_devices, '{}')))
         RETURNING ${RETURNING}`,
      id,
      deviceId,
      how === 'reject',
    );
    const [ended] = await this.prisma.$queryRawUnsafe<CallRow[]>(
      `UPDATE calls SET state = 'ended', ended_at = now(),
              end_reason = CASE WHEN rejected THEN 'reject' WHEN $2 = 'disconnected' THEN 'disconnected' ELSE 'busy' END
         WHERE id = $1::uuid AND state = 'ringing' AND coalesce(rung_devices, '{}') <@ coalesce(declined_devices, '{}')
         RETURNING ${RETURNING}`,
      id,
      how,
    );
    return { ended: ended ?? null, row: row ?? null };
  }

  /** Live calls in which this device takes part (as the caller device, a rung or the answering device). */
  async liveCallsOfDevice(userId: string, deviceId: number): Promise<CallRow[]> {
    return this.prisma.$queryRawUnsafe<CallRow[]>(
      `SELECT ${RETURNING} FROM calls WHERE state IN ('ringing', 'connected') AND (
         (caller_id = $1::uuid AND caller_device_id = $2)
         OR (callee_id = $1::uuid AND (answered_device_id = $2 OR (state = 'ringing' AND $2 = ANY(rung_devices)))))`,
      userId,
      deviceId,
    );
  }

  /** A connected party's socket dropped: the grace period starts (unless it already did). */
  async markPartyLost(id: string): Promise<void> {
    await this.prisma.$executeRaw`
      UPDATE calls SET party_lost_at = now() WHERE id = ${id}::uuid AND state = 'connected' AND party_lost_at IS NULL`;
  }

  /** A device's signaling socket is back: its connected calls are no longer in their grace period. */
  async partyBack(userId: string, deviceId: number): Promise<void> {
    await this.prisma.$executeRaw`
      UPDATE calls SET party_lost_at = NULL WHERE state = 'connected' AND party_lost_at IS NOT NULL AND (
        (caller_id = ${userId}::uuid AND caller_device_id = ${deviceId})
        OR (callee_id = ${userId}::uuid AND answered_device_id = ${deviceId}))`;
  }

  /** Ringing calls older than the ring timeout end as `timeout` (whichever node notices first). */
  async endOverdueRinging(startedBefore: Date, batch = 500): Promise<CallRow[]> {
    return this.prisma.$queryRawUnsafe<CallRow[]>(
      `UPDATE calls SET state = 'ended', end_reason = 'timeout', ended_at = now()
         WHERE id IN (SELECT id FROM calls WHERE state = 'ringing' AND started_at < $1 LIMIT $2)
           AND state = 'ringing'
         RETURNING ${RETURNING}`,
      startedBefore,
      batch,
    );
  }

  /** Connected calls whose lost party did not come back within the grace period end as `disconnected`. */
  async endLostParties(lostBefore: Date, batch = 500): Promise<CallRow[]> {
    return this.prisma.$queryRawUnsafe<CallRow[]>(
      `UPDATE calls SET state = 'ended', end_reason = 'disconnected', ended_at = now()
         WHERE id IN (SELECT id FROM calls WHERE state = 'connected' AND party_lost_at < $1 LIMIT $2)
           AND state = 'connected'
         RETURNING ${RETURNING}`,
      lostBefore,
      batch,
    );
  }

  /** Connected calls without a grace period running (the sweep checks their parties' presence). */
  async connectedWithoutLoss(batch = 500): Promise<CallRow[]> {
    return this.prisma.$queryRawUnsafe<CallRow[]>(
      `SELECT ${RETURNING} FROM calls WHERE state = 'connected' AND party_lost_at IS NULL ORDER BY started_at LIMIT $1`,
      batch,
    );
  }

  async countLive(): Promise<number> {
    return this.prisma.call.count({ where: { state: { in: ['ringing', 'connected'] } } });
  }

  /** The user's calls (as caller or callee), newest first, before the (startedAt, id) cursor. */
  history(userId: string, before: { startedAt: Date; id: string } | null, limit: number): Promise<CallRow[]> {
    return this.prisma.call.findMany({
      where: {
        OR: [{ callerId: userId }, { calleeId: userId }],
        ...(before
          ? {
              AND: [
                {
                  OR: [{ startedAt: { lt: before.startedAt } }, { startedAt: before.startedAt, id: { lt: before.id } }],
                },
              ],
            }
          : {}),
      },
      orderBy: [{ startedAt: 'desc' }, { id: 'desc' }],
      take: limit,
      select: callSelect,
    }) as Promise<CallRow[]>;
  }

  /** Retention, in bounded batches: call records started before the cutoff (ended or stuck). */
  async purge(startedBefore: Date, batch: number): Promise<number> {
    return this.prisma.$executeRaw`
      DELETE FROM calls WHERE id IN (SELECT id FROM calls WHERE started_at < ${startedBefore} LIMIT ${batch})`;
  }
}
