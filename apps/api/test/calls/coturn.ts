import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Coturn {
  port: number;
  secret: string;
  realm: string;
  log(): Promise<string>;
  stop(): Promise<void>;
}

/** A UDP port nobody holds right now (bound and released). */
async function freeUdpPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const ok = await new Promise<boolean>((res) => {
      const s = createSocket('udp4');
      s.once('error', () => {
        s.close();
        res(false);
      });
      s.bind(port, '127.0.0.1', () => s.close(() => res(true)));
    });
    if (ok) return port;
  }
  throw new Error('no free UDP port');
}

/** Sends STUN Binding requests until one gets a Binding success response (0x0101). */
async function stunReady(port: number, timeoutMs: number): Promise<void> {
  const sock = createSocket('udp4');
  const end = Date.now() + timeoutMs;
  let done = false;
  try {
    await new Promise<void>((resolve, reject) => {
      sock.on('message', (msg) => {
        if (msg.length >= 20 && msg.readUInt16BE(0) === 0x0101) resolve();
      });
      const tick = () => {
        if (done) return;
        if (Date.now() > end) return reject(new Error(`coturn did not answer STUN on ${port}`));
        const req = Buffer.alloc(20);
        req.writeUInt16BE(0x0001, 0); // Binding request
        req.writeUInt16BE(0, 2);
        req.writeUInt32BE(0x2112a442, 4); // magic cookie
        randomBytes(12).copy(req, 8);
        sock.send(req, port, '127.0.0.1');
        setTimeout(tick, 200).unref();
      };
      tick();
    });
  } finally {
    done = true;
    sock.close();
  }
}

/** Starts Debian's coturn on loopback with use-auth-secret (the recipe of TOOLCHAIN.md). */
export async function startCoturn(): Promise<Coturn> {
  const dir = await mkdtemp(join(tmpdir(), 'st-turn-'));
  const port = await freeUdpPort();
  const minPort = 40_000 + Math.floor(Math.random() * 20_000);
  const secret = randomBytes(16).toString('hex');
  const realm = 'snaptalker.test';
  const proc: ChildProcess = spawn(
    'turnserver',
    [
      '-n',
      '--listening-ip=127.0.0.1',
      '--relay-ip=127.0.0.1',
      `--listening-port=${port}`,
      `--min-port=${minPort}`,
      `--max-port=${minPort + 200}`,
      '--use-auth-secret',
      `--static-auth-secret=${secret}`,
      `--realm=${realm}`,
      '--allow-loopback-peers',
      '--no-cli',
      '--no-tls',
      '--no-dtls',
      '--fingerprint',
      '--verbose',
      `--log-file=${join(dir, 'turn.log')}`,
      '--simple-log',
      '--no-stdout-log',
      `--pidfile=${join(dir, 'turn.pid')}`,
      `--db=${join(dir, 'turndb')}`,
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const log = () => readFile(join(dir, 'turn.log'), 'utf8').catch(() => '');
  try {
    await Promise.race([
      stunReady(port, 30_000),
      exited.then(async () => {
        throw new Error(`coturn exited at start:\n${await log()}`);
      }),
    ]);
  } catch (e) {
    proc.kill('SIGKILL');
    throw e;
  }
  return {
    port,
    secret,
    realm,
    log,
    async stop() {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
