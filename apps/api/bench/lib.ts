import { readdirSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/index.js';
import type { Logger } from 'pino';
import { startServer } from '../src/server.js';

/** Benchmarks run on PostgreSQL + Redis when BENCH_DATABASE_URL/BENCH_REDIS_URL are set, else embedded. */
export async function benchServer(env: Record<string, string> = {}, log?: Logger) {
  const dataDir = await mkdtemp(join(tmpdir(), 'st-bench-'));
  const huge = '100000000/1';
  return startServer(
    loadConfig({
      DATABASE_URL: process.env.BENCH_DATABASE_URL ?? '',
      REDIS_URL: process.env.BENCH_REDIS_URL ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      GRPC_PORT: '0',
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent',
      DATA_DIR: dataDir,
      JWT_SECRET: 'bench-secret-bench-secret-bench-secret',
      RATE_LIMIT_REGISTER_PHONE: huge,
      RATE_LIMIT_REGISTER_IP: huge,
      RATE_LIMIT_VERIFY_IP: huge,
      RATE_LIMIT_LOGIN_ACCOUNT: huge,
      RATE_LIMIT_LOGIN_IP: huge,
      RATE_LIMIT_REFRESH_DEVICE: huge,
      RATE_LIMIT_BUNDLE_REQUESTER: huge,
      RATE_LIMIT_BUNDLE_TARGET: huge,
      RATE_LIMIT_MESSAGES_USER: huge,
      MAX_DEVICES_PER_ACCOUNT: '100',
      ...env,
    }),
    log,
  );
}

/**
 * The same server as its own process, so the load generator (this process) does not share the
 * server's event loop: figures then reflect the server, not the client.
 */
export async function spawnBenchServer(env: Record<string, string> = {}) {
  const { spawnServer, SOURCE_ARGS } = await import('../test/helpers/process.js');
  // BENCH_PROFILE_DIR=dir: the server writes a V8 CPU profile there on exit (node --cpu-prof).
  const profile = process.env.BENCH_PROFILE_DIR;
  // The young-generation size production runs with (apps/api/Dockerfile).
  const prod = ['--max-semi-space-size=32'];
  const args = profile
    ? ['--cpu-prof', `--cpu-prof-dir=${profile}`, ...prod, ...SOURCE_ARGS]
    : [...prod, ...SOURCE_ARGS];
  const dataDir = await mkdtemp(join(tmpdir(), 'st-bench-'));
  const huge = '100000000/1';
  const proc = await spawnServer(
    {
      DATABASE_URL: process.env.BENCH_DATABASE_URL ?? '',
      REDIS_URL: process.env.BENCH_REDIS_URL ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      GRPC_PORT: '0',
      LOG_LEVEL: 'info',
      DATA_DIR: dataDir,
      JWT_SECRET: 'bench-secret-bench-secret-bench-secret',
      ...Object.fromEntries(
        [
          'REGISTER_PHONE',
          'REGISTER_IP',
          'VERIFY_IP',
          'LOGIN_ACCOUNT',
          'LOGIN_IP',
          'REFRESH_DEVICE',
          'BUNDLE_REQUESTER',
          'BUNDLE_TARGET',
          'MESSAGES_USER',
        ].map((n) => [`RATE_LIMIT_${n}`, huge]),
      ),
      MAX_DEVICES_PER_ACCOUNT: '100',
      // e.g. `--import=./count-queries.cjs` to instrument the server process while profiling.
      ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
      // WS_NO_BUFFER_UTIL=1: ws masks and unmasks in JavaScript instead of bufferutil (an A/B switch;
      // it applies to the load generator in this process as well).
      ...(process.env.WS_NO_BUFFER_UTIL ? { WS_NO_BUFFER_UTIL: '1' } : {}),
      ...env,
    },
    45_000,
    args,
  );
  const backends = /"backends":\{"database":"(\w+)","redis":"(\w+)"/.exec(proc.output());
  return {
    url: proc.url,
    pid: proc.proc.pid,
    /** Read and write system calls the server process has made so far, from /proc (Linux). */
    syscalls: () => processSyscalls(proc.proc.pid),
    /** CPU seconds (user + system) the server process has used so far, from /proc (Linux). */
    cpuSeconds: () => processCpuSeconds(proc.proc.pid),
    backends: `${backends?.[1] ?? '?'} + ${backends?.[2] ?? '?'}`,
    async close() {
      proc.kill('SIGTERM');
      await proc.exited;
    },
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export function summary(latenciesMs: number[]) {
  const s = [...latenciesMs].sort((x, y) => x - y);
  return { p50: percentile(s, 50).toFixed(1), p99: percentile(s, 99).toFixed(1), max: (s.at(-1) ?? 0).toFixed(1) };
}

/** Runs `task` with `concurrency` workers until `total` calls are done; returns ops/s and latencies. */
export async function run(total: number, concurrency: number, task: (i: number) => Promise<void>) {
  let next = 0;
  const lat: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const s = performance.now();
        await task(i);
        lat.push(performance.now() - s);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  return { opsPerS: total / secs, secs, ...summary(lat) };
}

/** A process's read-type and write-type system calls so far (Linux /proc/<pid>/io; NaN elsewhere). */
export function processSyscalls(pid: number | undefined): { reads: number; writes: number } {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)`, 'm').exec(io)?.[1]);
    return { reads: field('syscr'), writes: field('syscw') };
  } catch {
    return { reads: Number.NaN, writes: Number.NaN };
  }
}

/** utime + stime of a process in seconds (Linux /proc; NaN elsewhere). */
export function processCpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/**
 * CPU seconds used so far by the machine's PostgreSQL and Redis server processes (Linux /proc,
 * by command name): with the API and the load generator they share the cores, so a figure per
 * operation for each shows where the machine's time goes.
 */
export function serviceCpuSeconds(): { postgres: number; redis: number } {
  const out = { postgres: 0, redis: 0 };
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      const kind = comm.startsWith('postgres') ? 'postgres' : comm.startsWith('redis-server') ? 'redis' : null;
      if (kind) out[kind] += processCpuSeconds(Number(entry));
    } catch {
      // The process ended while being read.
    }
  }
  return out;
}

/** One line: µs of CPU per operation for the API, PostgreSQL, Redis and this load generator. */
export function cpuBreakdown(ops: number, apiCpu: () => number) {
  const a0 = apiCpu();
  const s0 = serviceCpuSeconds();
  const l0 = process.cpuUsage();
  return () => {
    const s1 = serviceCpuSeconds();
    const l = process.cpuUsage(l0);
    const us = (sec: number) => ((sec / ops) * 1e6).toFixed(0);
    return `CPU per op: API ${us(apiCpu() - a0)} µs, PostgreSQL ${us(s1.postgres - s0.postgres)} µs, Redis ${us(s1.redis - s0.redis)} µs, load generator ${us((l.user + l.system) / 1e6)} µs`;
  };
}

/**
 * A lean HTTP/1.1 keep-alive client for load generation: one socket, one request at a time, the
 * response framed by Content-Length. node:http spent more CPU per request in this process than
 * the server spent answering it, and the load generator shares the machine's cores with the
 * server, so its cost lowered the figure being measured (wrk and autocannon work the same way).
 * Only what the benches need: GET with headers, JSON bodies with a Content-Length.
 */
export class LeanHttpClient {
  private socket: Socket;
  private buf: Buffer = Buffer.alloc(0);
  private pending: { resolve: (r: { status: number; body: Buffer }) => void; reject: (e: Error) => void } | null = null;
  private readonly ready: Promise<void>;

  constructor(url: string) {
    const { hostname, port } = new URL(url);
    this.socket = connect({ host: hostname, port: Number(port), noDelay: true });
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.socket.on('data', (chunk: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
      this.parse();
    });
    this.socket.on('error', (e) => this.pending?.reject(e));
    this.socket.on('close', () => this.pending?.reject(new Error('connection closed')));
  }

  async get(path: string, headers: Record<string, string>): Promise<{ status: number; body: Buffer }> {
    await this.ready;
    if (this.pending) throw new Error('one request at a time');
    let head = `GET ${path} HTTP/1.1\r\nhost: bench\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.socket.write(`${head}\r\n`);
    });
  }

  private parse(): void {
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0 || !this.pending) return;
    const head = this.buf.toString('latin1', 0, end);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    if (this.buf.length < end + 4 + length) return;
    const status = Number(head.slice(9, 12));
    const body = this.buf.subarray(end + 4, end + 4 + length);
    this.buf = this.buf.subarray(end + 4 + length);
    const p = this.pending;
    this.pending = null;
    p.resolve({ status, body });
  }

  close(): void {
    this.socket.destroy();
  }
}
