#!/usr/bin/env node
// No Docker engine runs on CI machines, so this runs a Dockerfile's build steps the way `docker build`
// would, in a clean clone: every stage gets its own directory standing in for the image's root, WORKDIR
// and COPY (from the context or `--from=<stage>`) are mapped into it, ENV is applied, and every RUN
// command runs as written, except that absolute paths in it are rebased onto the stage's directory
// (so `rm -rf /root/.npm` cleans the stage, not this machine) and `chown node:…` uses this user (the
// image's `node` user does not exist here). Then it starts the final stage's CMD and runs its
// HEALTHCHECK command. Usage: node test/docker-build-steps.mjs apps/api/Dockerfile [apps/admin/Dockerfile]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function parse(text) {
  const out = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (/^\s*(#|$)/.test(line)) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i].trim()}`;
    const m = /^\s*(\w+)\s+(.*)$/.exec(line);
    if (m) out.push({ keyword: m[1].toUpperCase(), args: m[2].trim() });
  }
  return out;
}

/** `KEY=value KEY2=value2` (values without spaces, as our Dockerfiles write them). */
function parseEnv(args) {
  return Object.fromEntries(args.split(/\s+/).map((kv) => kv.split(/=(.*)/s).slice(0, 2)));
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

function copyInto(src, dest, destIsDir) {
  if (!existsSync(src)) throw new Error(`COPY source missing: ${src}`);
  const isDir = readdirSync(dirname(src), { withFileTypes: true })
    .find((e) => e.name === src.split('/').at(-1))
    ?.isDirectory();
  if (isDir) {
    // Docker copies a directory's contents, not the directory itself.
    mkdirSync(dest, { recursive: true });
    for (const e of readdirSync(src)) cpSync(join(src, e), join(dest, e), { recursive: true, verbatimSymlinks: true });
  } else {
    const target = destIsDir ? join(dest, src.split('/').at(-1)) : dest;
    mkdirSync(dirname(target), { recursive: true });
    cpSync(src, target);
  }
}

async function runDockerfile(dockerfile, work) {
  const started = Date.now();
  const context = join(work, 'context');
  execFileSync('git', ['clone', '--quiet', '--no-hardlinks', repo, context]);
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const stages = new Map();
  let stage;
  for (const ins of parse(readFileSync(join(context, dockerfile), 'utf8'))) {
    if (ins.keyword === 'FROM') {
      const [, image, name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args) ?? [];
      stage = { name, image, root: join(work, `stage-${stages.size}`), workdir: '/', env: {}, cmd: null, health: null };
      mkdirSync(stage.root, { recursive: true });
      stages.set(name ?? String(stages.size), stage);
      console.log(`== FROM ${image} (${name ?? 'unnamed'})`);
      continue;
    }
    const at = (p) => join(stage.root, p.startsWith('/') ? p : join(stage.workdir, p));
    switch (ins.keyword) {
      case 'WORKDIR':
        stage.workdir = ins.args;
        mkdirSync(at('.'), { recursive: true });
        break;
      case 'ENV':
        Object.assign(stage.env, parseEnv(ins.args));
        break;
      case 'COPY': {
        const parts = ins.args.split(/\s+/);
        const from = parts[0].startsWith('--from=') ? parts.shift().slice('--from='.length) : null;
        const dest = parts.pop();
        const destIsDir = dest.endsWith('/') || dest === '.' || parts.length > 1;
        for (const src of parts) {
          const source = from ? join(stages.get(from).root, src) : join(context, src);
          copyInto(source.replace(/\/\.$/, ''), at(dest), destIsDir);
        }
        break;
      }
      case 'RUN': {
        const cmd = ins.args
          .replace(/chown\s+node:node/g, `chown ${uid}:${gid}`)
          .replace(/(^|\s)\/(?=[\w.])/g, `$1${stage.root}/`);
        console.log(`-- RUN ${ins.args}`);
        const r = spawnSync('bash', ['-euo', 'pipefail', '-c', cmd], {
          cwd: at('.'),
          env: { ...process.env, ...stage.env },
          stdio: 'inherit',
        });
        if (r.status !== 0) throw new Error(`RUN failed (${r.status}): ${ins.args}`);
        break;
      }
      case 'CMD':
        stage.cmd = JSON.parse(ins.args);
        break;
      case 'HEALTHCHECK':
        stage.health = JSON.parse(ins.args.replace(/^.*?CMD\s+/, ''));
        break;
      default:
        // USER, EXPOSE, VOLUME, ARG: image metadata, nothing to run (the lint test checks them).
        break;
    }
  }
  const final = [...stages.values()].at(-1);
  const app = join(final.root, final.workdir);
  // Production dependencies only: no package's devDependencies are linked into its node_modules.
  const devOnly = [];
  for (const pkg of ['.', ...['apps', 'packages'].flatMap((d) => readdirSync(join(app, d)).map((p) => `${d}/${p}`))]) {
    const manifest = join(app, pkg, 'package.json');
    if (!existsSync(manifest)) continue;
    for (const dep of Object.keys(JSON.parse(readFileSync(manifest, 'utf8')).devDependencies ?? {})) {
      if (existsSync(join(app, pkg, 'node_modules', dep))) devOnly.push(`${pkg}: ${dep}`);
    }
  }
  if (devOnly.length) throw new Error(`development dependencies in the runtime stage: ${devOnly.join(', ')}`);

  const port = String(await freePort());
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...final.env,
    ...(final.env.DATA_DIR ? { DATA_DIR: join(final.root, final.env.DATA_DIR) } : {}),
    PORT: port,
    GRPC_PORT: '0',
    HOST: '127.0.0.1',
  };
  console.log(`== CMD ${final.cmd.join(' ')}`);
  const proc = spawn(final.cmd[0], final.cmd.slice(1), { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  try {
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`CMD exited ${proc.exitCode}:\n${out}`);
      const r = spawnSync(final.health[0], final.health.slice(1), { cwd: app, env, timeout: 10_000 });
      if (r.status === 0) break;
      if (Date.now() > deadline) throw new Error(`HEALTHCHECK never passed:\n${out}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    console.log(`== HEALTHCHECK passed: ${dockerfile} built and runs (${Math.round((Date.now() - started) / 1000)} s)`);
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => (proc.exitCode !== null ? r() : proc.once('exit', r)));
  }
}

const files = process.argv.slice(2);
if (files.length === 0) files.push('apps/api/Dockerfile', 'apps/admin/Dockerfile');
let failed = 0;
for (const f of files) {
  const work = mkdtempSync(join(tmpdir(), 'st-docker-steps-'));
  try {
    await runDockerfile(f, work);
  } catch (e) {
    failed++;
    console.error(`!! ${f}: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
console.log(`${files.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
