// The messaging bench's shape against ejabberd (BENCH_PEER=ejabberd): the same pairs, messages per
// pair, sends in flight per pair and payload bytes, as XMPP 1:1 <message/> stanzas between
// registered users. A send counts as in flight until the server acknowledges it (XEP-0198 <a/>, as a
// SnapTalker send until its send.result); latency is send → receipt by the recipient, as for ours.
import { startEjabberd, XmppClient } from './ejabberd.js';
import { percentile } from './lib.js';

export interface PeerFigures {
  msgsPerS: number;
  p50: number;
  p95: number;
  p99: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  cpuPerMessageUs: number;
  loadGeneratorUsPerMessage: number;
}

export async function runEjabberd(shape: {
  pairs: number;
  messages: number;
  inFlight: number;
  payload: number;
  maxSeconds: number;
}): Promise<PeerFigures> {
  const server = await startEjabberd();
  try {
    const run = `${Date.now().toString(36)}`;
    const senders: XmppClient[] = [];
    const recipients: XmppClient[] = [];
    for (let i = 0; i < shape.pairs; i++) {
      const s = new XmppClient(server.port, `s${i}x${run}`, 'bench-password');
      const r = new XmppClient(server.port, `r${i}x${run}`, 'bench-password');
      await r.start({ register: true, streamManagement: false });
      await s.start({ register: true, streamManagement: true });
      senders.push(s);
      recipients.push(r);
    }
    const body = 'A'.repeat(Math.ceil((shape.payload * 4) / 3)); // the base64 length of the payload
    const sentAt = senders.map(() => new Float64Array(shape.messages));
    const seen = senders.map(() => new Uint8Array(shape.messages));
    const lastSeen = senders.map(() => -1);
    const latencies: number[] = [];
    let received = 0;
    let duplicated = 0;
    let outOfOrder = 0;
    let accepted = 0;
    let t0 = 0;
    recipients.forEach((r, i) => {
      r.onMessage = (id) => {
        const n = Number(id);
        if (seen[i]![n]) {
          duplicated++;
          return;
        }
        seen[i]![n] = 1;
        received++;
        latencies.push(performance.now() - t0 - sentAt[i]![n]!);
        // One sender, one connection: XMPP keeps a stream's stanzas in order.
        if (n < lastSeen[i]!) outOfOrder++;
        lastSeen[i] = Math.max(lastSeen[i]!, n);
      };
    });
    const deadline = Date.now() + shape.maxSeconds * 1000;
    const cpu0 = server.cpuSeconds();
    const gen0 = process.cpuUsage();
    t0 = performance.now();
    await Promise.all(
      senders.map(
        (s, i) =>
          new Promise<void>((resolve) => {
            let sent = 0;
            // <presence/> went out after <enable/>: the server's count of handled stanzas starts at 1.
            const base = 1;
            const pump = (handled: number) => {
              const acked = Math.max(0, handled - base);
              while (sent < shape.messages && sent - acked < shape.inFlight && Date.now() < deadline) {
                sentAt[i]![sent] = performance.now() - t0;
                s.send(recipients[i]!.jid, String(sent), body);
                sent++;
              }
              if (acked >= sent && (sent >= shape.messages || Date.now() >= deadline)) {
                accepted += acked;
                resolve();
              }
            };
            s.onAck = pump;
            pump(base);
            // A server that stops acknowledging cannot hold the bench past its bound.
            setTimeout(resolve, shape.maxSeconds * 1000 + 15_000).unref();
          }),
      ),
    );
    const waitEnd = Date.now() + 15_000;
    while (received < accepted && Date.now() < waitEnd) await new Promise((r) => setTimeout(r, 20));
    const secs = (performance.now() - t0) / 1000;
    const cpu = server.cpuSeconds() - cpu0;
    const gen = process.cpuUsage(gen0);
    for (const c of [...senders, ...recipients]) c.close();
    const sorted = latencies.sort((a, b) => a - b);
    return {
      msgsPerS: received / secs,
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      lost: accepted - received,
      duplicated,
      outOfOrder,
      cpuPerMessageUs: (cpu / Math.max(1, received)) * 1e6,
      loadGeneratorUsPerMessage: (gen.user + gen.system) / Math.max(1, received),
    };
  } finally {
    await server.stop();
  }
}
