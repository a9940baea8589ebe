// Bundle claims driven by Debian's `wrk` (C, epoll, HTTP/1.1 keep-alive) instead of a Node client.
// The load generator shares the machine's two cores with the server: the benches' lean Node client
// spent 85–130 µs of CPU per request, wrk about a tenth of that, so more of the machine goes to what
// is being measured. A Lua script gives each request one of the clients' tokens and records the
// one-time key id of every reply, so that every claimed key is still checked to be distinct.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface WrkClaims {
  requests: number;
  perSecond: number;
  seconds: number;
  /** Latency percentiles in ms; with several wrk processes the p50 is their mean, the p99 their worst. */
  p50: number;
  p99: number;
  failed: number;
  withKey: number;
  distinct: number;
  /** CPU seconds wrk used (user + system, all of its processes). */
  cpuSeconds: number;
}

const script = (tokens: string[], out: string) => `
local tokens = { ${tokens.map((t) => JSON.stringify(t)).join(', ')} }
local i = 0
ids = {}
n, failed = 0, 0
local threads = {}
function setup(thread) table.insert(threads, thread) end
function request()
  i = i % #tokens + 1
  return wrk.format("GET", nil, { ["authorization"] = "Bearer " .. tokens[i] })
end
function response(status, headers, body)
  n = n + 1
  if status ~= 200 then failed = failed + 1 return end
  local id = string.match(body, '"preKey":{"keyId":(%d+)')
  if id then ids[#ids + 1] = id end
end
function done(summary, latency, requests)
  local f = io.open(${JSON.stringify(out)}, "w")
  local total, bad = 0, 0
  for _, t in ipairs(threads) do
    total = total + t:get("n")
    bad = bad + t:get("failed")
    for _, id in ipairs(t:get("ids")) do f:write(id, "\\n") end
  end
  f:write(string.format("# %d %d %d %f %f %d\\n", total, bad, summary.requests, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.duration))
  f:close()
end
`;

/** Runs one wrk per URL (the connections spread over them) for `seconds`, all at once. */
export async function wrkClaims(opts: {
  urls: string[];
  tokens: string[];
  connections: number;
  seconds: number;
}): Promise<WrkClaims> {
  const dir = await mkdtemp(join(tmpdir(), 'st-wrk-'));
  try {
    const runs = opts.urls.map(async (url, k) => {
      const out = join(dir, `ids-${k}.txt`);
      const lua = join(dir, `claims-${k}.lua`);
      await writeFile(lua, script(opts.tokens, out));
      const conns = Math.max(1, Math.round(opts.connections / opts.urls.length));
      // The shell reports its waited-for child's CPU time (cutime + cstime of /proc/$$/stat).
      const cmd = `wrk -t1 -c${conns} -d${opts.seconds}s --timeout 10s -s '${lua}' '${url}' >/dev/null && cat /proc/$$/stat`;
      const stat = await new Promise<string>((resolve, reject) =>
        execFile('sh', ['-c', cmd], { timeout: (opts.seconds + 60) * 1000 }, (err, stdout, stderr) =>
          err
            ? reject(new Error(`wrk failed (is Debian's wrk installed?): ${stderr || err.message}`))
            : resolve(stdout),
        ),
      );
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cpuSeconds = (Number(fields[13]) + Number(fields[14])) / 100;
      const lines = (await readFile(out, 'utf8')).trim().split('\n');
      const [, n, bad, , p50, p99, durationUs] = (lines.pop() ?? '').split(' ').map(Number);
      return {
        ids: lines,
        n: n ?? 0,
        bad: bad ?? 0,
        p50: p50 ?? 0,
        p99: p99 ?? 0,
        secs: (durationUs ?? 0) / 1e6,
        cpuSeconds,
      };
    });
    const all = await Promise.all(runs);
    const ids = all.flatMap((r) => r.ids);
    const requests = all.reduce((s, r) => s + r.n, 0);
    const seconds = Math.max(...all.map((r) => r.secs));
    return {
      requests,
      perSecond: requests / seconds,
      seconds,
      p50: all.reduce((s, r) => s + r.p50, 0) / all.length,
      p99: Math.max(...all.map((r) => r.p99)),
      failed: all.reduce((s, r) => s + r.bad, 0),
      withKey: ids.length,
      distinct: new Set(ids).size,
      cpuSeconds: all.reduce((s, r) => s + r.cpuSeconds, 0),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
