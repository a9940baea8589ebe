'use client';

import { useEffect, useState } from 'react';
import type { Dashboard } from '@/lib/contract';
import { bytes, ms, num, when } from '@/lib/format';
import { Chart } from './chart';

/** The dashboard's figures, re-fetched every few seconds from the console's own route handler. */
export function DashboardView({ initial, intervalMs = 3000 }: { initial: Dashboard; intervalMs?: number }) {
  const [data, setData] = useState(initial);
  const [stale, setStale] = useState<string | null>(null);
  useEffect(() => {
    let stop = false;
    const tick = async () => {
      try {
        const r = await fetch('/dashboard/data', { cache: 'no-store' });
        if (r.status === 401) {
          window.location.assign('/login?expired=1');
          return;
        }
        if (!r.ok) throw new Error(String(r.status));
        if (!stop) {
          setData((await r.json()) as Dashboard);
          setStale(null);
        }
      } catch {
        if (!stop) setStale('Live update failed; retrying.');
      }
    };
    const t = setInterval(tick, intervalMs);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, [intervalMs]);

  const cards: [string, string, string][] = [
    ['Message sockets', num(data.sockets.messages), 'message-sockets'],
    ['Call sockets', num(data.sockets.calls), 'call-sockets'],
    ['Messages / s', num(data.messagesPerSecond), 'messages-per-second'],
    ['Queue depth', num(data.queueDepth), 'queue-depth'],
    ['Delivery p50', ms(data.deliveryMs.p50), 'delivery-p50'],
    ['Delivery p99', ms(data.deliveryMs.p99), 'delivery-p99'],
    ['Active calls', num(data.activeCalls), 'active-calls'],
    ['Attachments stored', `${bytes(data.attachmentBytes)} (${num(data.attachmentCount)})`, 'attachment-bytes'],
    ['Users', `${num(data.users)}${data.bannedUsers ? ` (${num(data.bannedUsers)} banned)` : ''}`, 'users'],
    ['Devices', num(data.devices), 'devices'],
  ];
  return (
    <div>
      <p className="muted small">
        Updated <span data-testid="dashboard-at">{when(data.at)}</span> · {data.nodes.length} API node(s) reporting
        {stale ? ` · ${stale}` : ''}
      </p>
      <div className="cards">
        {cards.map(([label, value, id]) => (
          <div className="card" key={id}>
            <div className="label">{label}</div>
            <div className="value" data-testid={`card-${id}`}>
              {value}
            </div>
          </div>
        ))}
      </div>
      <div className="charts">
        <Chart label="Messages / s" values={data.series.map((p) => p.messagesPerSecond)} testId="chart-mps" />
        <Chart label="Delivery p99" unit=" ms" values={data.series.map((p) => p.deliveryP99Ms)} testId="chart-p99" />
        <Chart label="Message sockets" values={data.series.map((p) => p.messageSockets)} testId="chart-msock" />
        <Chart label="Call sockets" values={data.series.map((p) => p.callSockets)} testId="chart-csock" />
      </div>
      <h2>API nodes</h2>
      <table>
        <thead>
          <tr>
            <th>Node</th>
            <th className="num">Message sockets</th>
            <th className="num">Call sockets</th>
            <th className="num">Messages / s</th>
            <th>Last report</th>
          </tr>
        </thead>
        <tbody>
          {data.nodes.map((n) => (
            <tr key={n.id}>
              <td className="mono">{n.id}</td>
              <td className="num">{num(n.messageSockets)}</td>
              <td className="num">{num(n.callSockets)}</td>
              <td className="num">{num(n.messagesPerSecond)}</td>
              <td>{when(n.seenAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
