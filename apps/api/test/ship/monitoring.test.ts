import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.js';
import { startTestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/tcp-proxy.js';

const run = promisify(execFile);
const monitoring = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../monitoring');
const alertsFile = join(monitoring, 'alerts.yml');
const dashboardFile = join(monitoring, 'grafana/dashboards/snaptalker.json');

/** Series Prometheus makes itself for every target; they never appear in /metrics. */
const PROMETHEUS_SYNTHETIC = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);
const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless']);
const PROMQL_WORDS_ALSO = new Set(['bool', 'offset', 'le', 'inf', 'nan']);

/** Metric names a PromQL expression reads (label matchers, grouping labels and functions removed). */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\w+/g, ' ');
  const names = new Set<string>();
  for (const m of bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?/g)) {
    const [, name, call] = m as unknown as [string, string, string | undefined];
    if (call || PROMQL_WORDS.has(name) || PROMQL_WORDS_ALSO.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names];
}

/** Names a /metrics exposition offers, histogram and summary series included. */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

function alertExprs(yaml: string): string[] {
  // The rules file keeps every expression either on one line or as a `|` block.
  const exprs: string[] = [];
  const lines = yaml.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)expr:\s*(.*)$/.exec(lines[i] as string);
    if (!m) continue;
    if (m[2] !== '|') {
      exprs.push(m[2] as string);
      continue;
    }
    const block: string[] = [];
    const indent = (m[1] as string).length;
    while (i + 1 < lines.length && /^\s*$|^\s+/.test(lines[i + 1] as string)) {
      const next = lines[i + 1] as string;
      if (next.trim() && next.search(/\S/) <= indent) break;
      block.push(next);
      i++;
    }
    exprs.push(block.join('\n'));
  }
  return exprs;
}

function dashboardExprs(json: string): string[] {
  const exprs: string[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        if (k === 'expr' && typeof child === 'string') exprs.push(child);
        else walk(child);
      }
    }
  };
  walk(JSON.parse(json));
  return exprs;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => res(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

describe('monitoring/ over the metrics the API really exports', () => {
  let server: RunningServer;
  let exposition: string;

  beforeAll(async () => {
    server = await startTestServer();
    exposition = await (await fetch(`${server.url}/metrics`)).text();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('the API exports the SnapTalker metrics the rules and the dashboard build on', () => {
    const names = exposedNames(exposition);
    for (const n of [
      'http_request_duration_seconds',
      'grpc_server_handled_total',
      'grpc_server_handling_seconds',
      'ws_connections',
      'messages_sent_total',
      'messages_delivered_total',
      'message_delivery_latency_seconds',
      'message_queue_depth',
      'prekey_low_devices',
      'dependency_up',
      'nodejs_eventloop_lag_p99_seconds',
    ]) {
      expect(names, n).toContain(n);
    }
    expect(exposition).toMatch(/^dependency_up\{dependency="database",backend="postgres"\} 1$/m);
    expect(exposition).toMatch(/^prekey_low_devices \d+$/m);
  });

  it('every metric name in alerts.yml and the Grafana dashboard exists in /metrics', async () => {
    const exprs = [
      ...alertExprs(await readFile(alertsFile, 'utf8')),
      ...dashboardExprs(await readFile(dashboardFile, 'utf8')),
    ];
    expect(exprs.length).toBeGreaterThanOrEqual(25);
    const used = new Set(exprs.flatMap(metricNames));
    expect(used.size).toBeGreaterThanOrEqual(15);
    const exposed = exposedNames(exposition);
    const missing = [...used].filter((n) => !exposed.has(n) && !PROMETHEUS_SYNTHETIC.has(n)).sort();
    expect(missing).toEqual([]);
  });

  it('the name extraction itself reads PromQL as Prometheus does', () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{status=~"5..",instance=~"$instance"}[$__rate_interval]))) > 0.5 and max(up) == 1',
      ).sort(),
    ).toEqual(['http_request_duration_seconds_bucket', 'up']);
  });

  describe('a real Prometheus', () => {
    let dir: string;
    let prom: ChildProcess;
    let promUrl: string;
    let promLog = '';

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'st-prom-'));
      const port = await freePort();
      promUrl = `http://127.0.0.1:${port}`;
      const target = new URL(server.url).host;
      await writeFile(
        join(dir, 'prometheus.yml'),
        [
          'global:',
          '  scrape_interval: 1s',
          '  evaluation_interval: 1s',
          'rule_files:',
          `  - ${alertsFile}`,
          'scrape_configs:',
          '  - job_name: snaptalker-api',
          '    static_configs:',
          `      - targets: ['${target}']`,
          '',
        ].join('\n'),
      );
      prom = spawn(
        'prometheus',
        [
          `--config.file=${join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
          '--log.level=warn',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      prom.stdout?.on('data', (d: Buffer) => (promLog += d.toString()));
      prom.stderr?.on('data', (d: Buffer) => (promLog += d.toString()));
      await waitFor(async () => (await fetch(`${promUrl}/-/ready`).catch(() => null))?.ok, 30_000);
    }, 60_000);
    afterAll(async () => {
      prom?.kill('SIGTERM');
      await new Promise((r) => (prom?.exitCode !== null ? r(null) : prom.once('exit', r)));
      await rm(dir, { recursive: true, force: true });
    });

    it('promtool accepts the alert rules and the shipped scrape configuration', async () => {
      const rules = await run('promtool', ['check', 'rules', alertsFile]);
      expect(rules.stdout).toMatch(/SUCCESS: \d+ rules found/);
      const config = await run('promtool', ['check', 'config', join(monitoring, 'prometheus.yml')]);
      expect(config.stdout).toContain('is valid prometheus config file syntax');
    });

    it('scrapes the running API and answers a SnapTalker metric through its HTTP API', async () => {
      const query = async (q: string) => {
        const r = (await (await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as {
          status: string;
          data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
        };
        expect(r.status).toBe('success');
        return r.data.result;
      };
      const result = await waitFor(async () => {
        const r = await query('dependency_up{job="snaptalker-api",dependency="database"}');
        return r.length > 0 ? r : undefined;
      }, 30_000).catch((e: unknown) => {
        throw new Error(`no SnapTalker series in Prometheus: ${String(e)}\n${promLog}`);
      });
      expect(result[0]?.metric).toMatchObject({
        job: 'snaptalker-api',
        backend: 'postgres',
        instance: new URL(server.url).host,
      });
      expect(result[0]?.value[1]).toBe('1');
      expect((await query('up{job="snaptalker-api"}'))[0]?.value[1]).toBe('1');
    });

    it('loads and evaluates every alert rule without errors', async () => {
      const expected = alertExprs(await readFile(alertsFile, 'utf8')).length;
      const groups = await waitFor(async () => {
        const r = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as {
          data: { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> };
        };
        const rules = r.data.groups.flatMap((g) => g.rules);
        return rules.length === expected && rules.every((x) => x.health === 'ok') ? rules : undefined;
      }, 30_000);
      expect(groups.map((r) => r.name)).toContain('SnapTalkerApiDown');
    });
  });
});
