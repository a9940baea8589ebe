import { execFile as execFileCb } from 'node:child_process';
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFile = promisify(execFileCb);

/**
 * A real S3 server for tests: a one-node Ceph cluster (one monitor, one memstore OSD, no auth
 * between daemons) with a RADOS gateway, all under a temporary directory and started by the test
 * (recipe: TOOLCHAIN.md "A real S3 server for tests"). Needs `radosgw ceph-mon ceph-osd ceph-common`
 * (.ci/run installs them) and root (the daemons' default paths are not used, but they want it).
 */
export interface CephRgw {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`ceph: ${what} not reached within ${timeoutMs} ms`);
}

// Parallel test files starting clusters at the same moment can be handed the same "free" port for
// their monitors; the loser's daemons then join the winner's cluster ('wrong fsid'). Starts are
// serialised across processes with a lock directory (a stale one, from a killed run, is taken over).
const START_LOCK = join(tmpdir(), 'snaptalker-ceph-start.lock');

async function withStartLock<T>(fn: () => Promise<T>): Promise<T> {
  const end = Date.now() + 300_000;
  for (;;) {
    try {
      await mkdir(START_LOCK);
      break;
    } catch {
      const age = await stat(START_LOCK).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age > 180_000) await rm(START_LOCK, { recursive: true, force: true });
      if (Date.now() > end) throw new Error('ceph: start lock not acquired');
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(START_LOCK, { recursive: true, force: true });
  }
}

/** Starts a cluster; one more try on a failed start (five daemons on a loaded 2-core machine). */
export async function startCephRgw(): Promise<CephRgw> {
  return withStartLock(async () => {
    try {
      return await startOnce();
    } catch (first) {
      try {
        return await startOnce();
      } catch (second) {
        throw new Error(`Ceph RGW did not start twice:\n${String(first)}\n${String(second)}`);
      }
    }
  });
}

async function startOnce(): Promise<CephRgw> {
  const dir = await mkdtemp(join(tmpdir(), 'st-ceph-'));
  const [monPort, rgwPort] = [await freePort(), await freePort()];
  const fsid = randomUUID();
  // Daemons without an explicit address (the OSD) bind from Ceph's default 6800–7300 range: two
  // clusters started at once by parallel test files then reach each other's OSD ('wrong fsid').
  // Each cluster gets its own range of 100 ports.
  const bindMin = 20_000 + randomInt(0, 400) * 100;
  const conf = join(dir, 'ceph.conf');
  for (const d of ['run', 'log', 'mon', 'osd', 'rgw']) await mkdir(join(dir, d), { recursive: true });
  await writeFile(
    conf,
    `[global]
fsid = ${fsid}
mon host = v1:127.0.0.1:${monPort}
mon initial members = a
public network = 127.0.0.0/8
ms bind port min = ${bindMin}
ms bind port max = ${bindMin + 99}
auth cluster required = none
auth service required = none
auth client required = none
run dir = ${dir}/run
admin socket = ${dir}/run/$name.asok
log file = ${dir}/log/$name.log
pid file = ${dir}/run/$name.pid
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
osd crush chooseleaf type = 0
mon warn on pool no redundancy = false
[mon.a]
mon data = ${dir}/mon
[osd]
osd objectstore = memstore
memstore device bytes = 2147483648
osd data = ${dir}/osd
osd max object name len = 460
osd max object namespace len = 64
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw dns name = localhost
rgw data = ${dir}/rgw
`,
  );
  const env = { ...process.env, CEPH_CONF: conf };
  const run = (cmd: string, args: string[], timeout = 30_000) =>
    execFile(cmd, ['-c', conf, ...args], { env, timeout }).then((r) => r.stdout);

  const stop = async () => {
    const pids: number[] = [];
    for (const f of await readdir(join(dir, 'run')).catch(() => [] as string[])) {
      if (!f.endsWith('.pid')) continue;
      const pid = Number((await readFile(join(dir, 'run', f), 'utf8')).trim());
      if (pid > 0) pids.push(pid);
    }
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {}
    }
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const end = Date.now() + 15_000;
    while (pids.some(alive) && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
    for (const pid of pids.filter(alive)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const keyring = join(dir, 'mon.keyring');
    await execFile('ceph-authtool', [
      '--create-keyring',
      keyring,
      '--gen-key',
      '-n',
      'mon.',
      '--cap',
      'mon',
      'allow *',
    ]);
    // --addv with an explicit v1 address: a bare --add on a non-default port makes a msgr2-only
    // monitor, which the v1 `mon host` clients below never reach.
    await execFile('monmaptool', [
      '--create',
      '--addv',
      'a',
      `[v1:127.0.0.1:${monPort}]`,
      '--fsid',
      fsid,
      join(dir, 'monmap'),
    ]);
    await run('ceph-mon', ['--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap'), '--keyring', keyring]);
    await run('ceph-mon', ['-i', 'a']);
    await until(
      'monitor quorum',
      60_000,
      async () => (await run('ceph', ['-s', '--connect-timeout', '5'], 10_000)) !== '',
    );
    // The monitor answering must be ours, not another cluster's on a reused port.
    const answering = (await run('ceph', ['fsid', '--connect-timeout', '5'], 10_000)).trim();
    if (answering !== fsid) throw new Error(`ceph: the monitor on port ${monPort} belongs to another cluster`);
    const osdUuid = randomUUID();
    const osdId = (await run('ceph', ['osd', 'new', osdUuid])).trim();
    await run('ceph-osd', ['-i', osdId, '--mkfs', '--osd-uuid', osdUuid]);
    await run('ceph-osd', ['-i', osdId]);
    await until('osd up', 60_000, async () => / 1 up/.test(await run('ceph', ['osd', 'stat'], 10_000)));
    await run('radosgw', ['-n', 'client.rgw']);
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    await until('gateway HTTP', 60_000, async () => (await fetch(endpoint)).status > 0);
    const accessKey = `AK${randomBytes(8).toString('hex').toUpperCase()}`;
    const secretKey = randomBytes(20).toString('base64url');
    await run('radosgw-admin', [
      '-n',
      'client.rgw',
      'user',
      'create',
      '--uid=snaptalker-test',
      '--display-name=snaptalker test',
      `--access-key=${accessKey}`,
      `--secret=${secretKey}`,
    ]);
    return { endpoint, accessKey, secretKey, stop };
  } catch (e) {
    const log = await readFile(join(dir, 'log', 'client.rgw.log'), 'utf8').catch(() => '');
    await stop();
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${log.slice(-2000)}`);
  }
}
