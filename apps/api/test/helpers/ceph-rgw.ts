import { execFile as execFileCb } from 'node:child_process';
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './own-services.js';

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

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`ceph: ${what} not reached within ${timeoutMs} ms`);
}

// Two clusters alive at once on this machine (one per test file) sometimes reached each other:
// an OSD's commands were refused by the other cluster's monitor with 'wrong fsid', even with
// separate ports and serialised starts. So a test run has ONE cluster: the first suite that
// needs S3 starts it under a lock and records it in the run's directory (provided by the global
// setup), the others reuse it (each suite has its own bucket), and the global teardown stops it.
async function withLock<T>(lockDir: string, fn: () => Promise<T>): Promise<T> {
  const end = Date.now() + 300_000;
  for (;;) {
    try {
      await mkdir(lockDir);
      break;
    } catch {
      const age = await stat(lockDir).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      // A stale lock (its holder was killed) is taken over.
      if (age > 180_000) await rm(lockDir, { recursive: true, force: true });
      if (Date.now() > end) throw new Error('ceph: start lock not acquired');
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

interface ClusterRecord {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  dir: string;
}

/**
 * The test run's cluster (`runDir` comes from the global setup, which stops it at the end); without
 * a run directory, a cluster of the caller's own that its `stop` ends.
 */
export async function startCephRgw(runDir?: string): Promise<CephRgw> {
  if (!runDir) return startTwice();
  const record = join(runDir, 'ceph-cluster.json');
  return withLock(join(runDir, 'ceph-start.lock'), async () => {
    const known = await readFile(record, 'utf8').then(
      (t) => JSON.parse(t) as ClusterRecord,
      () => null,
    );
    if (known) return { ...known, stop: async () => {} };
    const rgw = await startTwice();
    await writeFile(record, JSON.stringify({ ...rgw, stop: undefined }));
    return { ...rgw, stop: async () => {} };
  });
}

/** Stops the run's cluster, if a suite started one (the global teardown calls this). */
export async function stopRunCluster(runDir: string): Promise<void> {
  const known = await readFile(join(runDir, 'ceph-cluster.json'), 'utf8').then(
    (t) => JSON.parse(t) as ClusterRecord,
    () => null,
  );
  if (known) await stopDaemons(known.dir);
}

/** One more try on a failed start (five daemons on a loaded 2-core machine). */
async function startTwice(): Promise<CephRgw & { dir: string }> {
  try {
    return await startOnce();
  } catch (first) {
    try {
      return await startOnce();
    } catch (second) {
      throw new Error(`Ceph RGW did not start twice:\n${String(first)}\n${String(second)}`);
    }
  }
}

/** SIGTERM to every daemon of the cluster in `dir` (their pid files), SIGKILL after 15 s; then the directory goes. */
async function stopDaemons(dir: string): Promise<void> {
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
}

/** Whether the daemon `name` of the cluster in `dir` runs (its pid file names a live process). */
async function daemonAlive(dir: string, name: string): Promise<boolean> {
  const pid = Number((await readFile(join(dir, 'run', `${name}.pid`), 'utf8')).trim());
  if (!(pid > 0)) return false;
  process.kill(pid, 0);
  return true;
}

async function startOnce(): Promise<CephRgw & { dir: string }> {
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
osd class update on start = false
osd crush update on start = false
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw dns name = localhost
rgw data = ${dir}/rgw
`,
  );
  const env = { ...process.env, CEPH_CONF: conf };
  const run = (cmd: string, args: string[], timeout = 30_000) =>
    execFile(cmd, ['-c', conf, ...args], { env, timeout }).then((r) => r.stdout);
  // Ceph 16's clients now and then send a command with an all-zero fsid right after connecting,
  // and the monitor refuses it ('wrong fsid'; seen in CI from the CLI and from the OSD's start-up
  // commands). Every command below is idempotent, so each is simply tried again; the OSD's own
  // start-up commands are turned off (`osd class/crush update on start`) and done here instead.
  const retried = async (
    cmd: string,
    args: string[],
    timeout = 30_000,
    doneAnyway: () => Promise<boolean> = async () => false,
  ): Promise<string> => {
    let last: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        return await run(cmd, args, timeout);
      } catch (e) {
        last = e;
        // A daemon that reported a failure may still have come up (its pid file names a live process).
        if (await doneAnyway().catch(() => false)) return '';
        await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
      }
    }
    throw last;
  };

  const stop = () => stopDaemons(dir);

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
    const answering = (await retried('ceph', ['fsid', '--connect-timeout', '5'], 10_000)).trim();
    if (answering !== fsid) throw new Error(`ceph: the monitor on port ${monPort} belongs to another cluster`);
    const osdUuid = randomUUID();
    // `osd new` with the same uuid answers the same id, so a retry never makes a second OSD.
    const osdId = (await retried('ceph', ['osd', 'new', osdUuid])).trim();
    await retried('ceph', ['osd', 'crush', 'add', `osd.${osdId}`, '1.0', 'host=localhost', 'root=default']);
    await run('ceph-osd', ['-i', osdId, '--mkfs', '--osd-uuid', osdUuid]);
    await retried('ceph-osd', ['-i', osdId], 30_000, () => daemonAlive(dir, `osd.${osdId}`));
    await until('osd up', 60_000, async () => / 1 up/.test(await run('ceph', ['osd', 'stat'], 10_000)));
    await retried('radosgw', ['-n', 'client.rgw'], 30_000, () => daemonAlive(dir, 'client.rgw'));
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    await until('gateway HTTP', 60_000, async () => (await fetch(endpoint)).status > 0);
    const accessKey = `AK${randomBytes(8).toString('hex').toUpperCase()}`;
    const secretKey = randomBytes(20).toString('base64url');
    await retried(
      'radosgw-admin',
      [
        '-n',
        'client.rgw',
        'user',
        'create',
        '--uid=snaptalker-test',
        '--display-name=snaptalker test',
        `--access-key=${accessKey}`,
        `--secret=${secretKey}`,
      ],
      30_000,
      async () =>
        (await run('radosgw-admin', ['-n', 'client.rgw', 'user', 'info', '--uid=snaptalker-test'])).includes(accessKey),
    );
    return { endpoint, accessKey, secretKey, dir, stop };
  } catch (e) {
    // The gateway's and the monitor's last words (the monitor names the fsid a refused command carried).
    const tail = async (name: string) =>
      (await readFile(join(dir, 'log', `${name}.log`), 'utf8').catch(() => '')).slice(-2000);
    const logs = `--- client.rgw\n${await tail('client.rgw')}\n--- mon.a\n${await tail('mon.a')}`;
    await stop();
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${logs}`);
  }
}
