import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import type { RunningServer } from '../../src/server.js';
import { startTestServer } from '../helpers/server.js';

describe('retention job', () => {
  let server: RunningServer;
  let db: pg.Client;
  beforeAll(async () => {
    server = await startTestServer({ MESSAGE_TTL_DAYS: '30', DELIVERED_RETENTION_HOURS: '24' });
    db = new pg.Client({ connectionString: inject('databaseUrl') });
    await db.connect();
  });
  afterAll(async () => {
    await db.end();
    await server.close();
  });

  it('deletes delivered envelopes past the window and undelivered ones past the TTL, in batches, and keeps the rest', async () => {
    const recipient = randomUUID();
    const insert = async (status: string, ageHours: number, deliveredAgeHours: number | null) => {
      const id = randomUUID();
      await db.query(
        `INSERT INTO messages (id, sender_id, sender_device_id, recipient_id, recipient_device_id, type, encrypted_content, status, timestamp, delivered_at)
         VALUES ($1, $2, 1, $3, 1, 'message', '\\x00', $4::message_status, now() - make_interval(hours => $5), now() - make_interval(hours => $6))`,
        [id, randomUUID(), recipient, status, ageHours, deliveredAgeHours],
      );
      return id;
    };
    const keep = [await insert('sent', 24 * 29, null), await insert('delivered', 48, 23), await insert('read', 2, 1)];
    const gone = [
      await insert('sent', 24 * 31, null),
      await insert('delivered', 30, 25),
      await insert('read', 100, 99),
    ];
    for (let i = 0; i < 5; i++) gone.push(await insert('sent', 24 * 40, null));
    const r = await server.services.messaging.purgeExpired(new Date(), 2);
    expect(r.expired).toBeGreaterThanOrEqual(6);
    expect(r.delivered).toBeGreaterThanOrEqual(2);
    const left = await db.query('SELECT id FROM messages WHERE recipient_id = $1', [recipient]);
    expect(left.rows.map((x) => x.id).sort()).toEqual([...keep].sort());
  });
});
