import { describe, expect, it } from 'vitest';
import { createUser } from '../helpers/api.js';
import { type ServerContext, useServer } from '../helpers/fixture.js';
import { TestSocket } from '../helpers/ws-client.js';

describe('open WebSockets per client IP', () => {
  let { server, otp, api } = {} as ServerContext;
  useServer({ WS_MAX_CONNECTIONS_PER_IP: '3' }, (c) => ({ server, otp, api } = c));

  it('the upgrade beyond the cap is refused with 429; closing one frees a slot', async () => {
    const users = await Promise.all(Array.from({ length: 5 }, () => createUser(api, otp)));
    const open = await Promise.all(users.slice(0, 3).map((u) => TestSocket.connect(server.url, u.accessToken)));
    await Promise.all(open.map((s) => s.next((f) => f.type === 'queue.empty')));
    await expect(TestSocket.connect(server.url, users[3]?.accessToken as string)).rejects.toThrow(
      'upgrade refused: 429',
    );
    // REST from the same address is not affected by the socket cap.
    expect((await api.get('/me', { token: users[3]?.accessToken })).status).toBe(200);
    open[0]?.close();
    await open[0]?.closed;
    let next: TestSocket | undefined;
    for (let i = 0; i < 50 && !next; i++) {
      next = await TestSocket.connect(server.url, users[4]?.accessToken as string).catch(() => undefined);
      if (!next) await new Promise((r) => setTimeout(r, 50));
    }
    expect(next).toBeDefined();
    await next?.next((f) => f.type === 'queue.empty');
    for (const s of [...open.slice(1), next]) s?.close();
  });
});
