// The peer in the messaging bench: Debian's ejabberd (`apt-get install ejabberd`), started by the
// bench in a temporary directory of its own, and a minimal XMPP client to drive it with the same
// shape as SnapTalker (pairs, messages, in flight, payload bytes). Only what the bench needs:
// in-band registration (XEP-0077), SASL PLAIN without TLS on loopback, resource binding, stream
// management acks (XEP-0198) and 1:1 <message/> stanzas.
import { execFile as execFileCb } from 'node:child_process';
import { chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { processCpuSeconds } from './lib.js';
import { freePort } from '../test/helpers/own-services.js';

const execFile = promisify(execFileCb);

export interface Ejabberd {
  port: number;
  /** CPU seconds used so far by the ejabberd node (its beam.smp process). */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/**
 * One ejabberd node on a free loopback port: in-memory sessions, users in Mnesia under the temp
 * dir, no offline storage (a message to an offline user is dropped: the "no persistence"),
 * no traffic shaper, in-band registration open to the bench.
 */
export async function startEjabberd(): Promise<Ejabberd> {
  const dir = await mkdtemp(join(tmpdir(), 'st-ejabberd-'));
  const port = await freePort();
  const node = `stbench${port}@localhost`;
  for (const d of ['spool', 'logs']) await mkdir(join(dir, d));
  await writeFile(
    join(dir, 'ejabberd.yml'),
    `hosts:
  - localhost
loglevel: warning
listen:
  -
    port: ${port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    shaper: c2s_shaper
    access: c2s
auth_method: internal
registration_timeout: infinity
shaper_rules:
  c2s_shaper: none
access_rules:
  c2s:
    allow: all
  register:
    allow: all
modules:
  mod_register:
    access: register
    ip_access: all
  mod_stream_mgmt: {}
`,
  );
  await writeFile(join(dir, 'ejabberdctl.cfg'), '');
  await writeFile(join(dir, 'inetrc'), await readFile('/etc/ejabberd/inetrc', 'utf8').catch(() => ''));
  // ejabberdctl run as root switches to the ejabberd user, which must own the directory.
  const { stdout: ids } = await execFile('id', ['-u', 'ejabberd']).catch(() => ({ stdout: '' }));
  const { stdout: gids } = await execFile('id', ['-g', 'ejabberd']).catch(() => ({ stdout: '' }));
  if (ids.trim()) {
    for (const p of [
      dir,
      join(dir, 'spool'),
      join(dir, 'logs'),
      join(dir, 'ejabberd.yml'),
      join(dir, 'ejabberdctl.cfg'),
      join(dir, 'inetrc'),
    ])
      await chown(p, Number(ids), Number(gids));
  }
  const ctl = (...args: string[]) =>
    execFile(
      'ejabberdctl',
      [
        '--config-dir',
        dir,
        '--config',
        join(dir, 'ejabberd.yml'),
        '--ctl-config',
        join(dir, 'ejabberdctl.cfg'),
        '--spool',
        join(dir, 'spool'),
        '--logs',
        join(dir, 'logs'),
        '--node',
        node,
        ...args,
      ],
      { timeout: 90_000 },
    );
  await ctl('start');
  const end = Date.now() + 60_000;
  for (;;) {
    const up = await ctl('status').then(
      (r) => /is running/.test(r.stdout),
      () => false,
    );
    if (up) break;
    if (Date.now() > end) throw new Error(`ejabberd did not start; see ${dir}/logs`);
    await new Promise((r) => setTimeout(r, 300));
  }
  // The node's Erlang VM: the beam.smp process whose command line names the node.
  const { stdout: pids } = await execFile('pgrep', ['-f', node]).catch(() => ({ stdout: '' }));
  let beam = 0;
  for (const pid of pids.split('\n').filter(Boolean)) {
    const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
    if (comm.trim().startsWith('beam')) beam = Number(pid);
  }
  return {
    port,
    cpuSeconds: () => processCpuSeconds(beam),
    async stop() {
      await ctl('stop').catch(() => {});
      await ctl('stopped').catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const xmlEscape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;');

/**
 * A top-level element of the stream at a time: the stream root stays open, so each complete child
 * (a stanza, features, SASL answer) is handed on as text once its closing tag has arrived.
 */
class StanzaSplitter {
  private buf = '';

  push(chunk: string, onElement: (xml: string) => void): void {
    this.buf += chunk;
    // The buffer always starts at an element boundary, so depth is counted from zero each time;
    // an unfinished element stays in the buffer and is scanned again when more arrives.
    let depth = 0;
    let start = 0;
    let consumed = 0;
    let i = 0;
    for (;;) {
      const lt = this.buf.indexOf('<', i);
      if (lt < 0) break;
      const gt = this.buf.indexOf('>', lt);
      if (gt < 0) break;
      const tag = this.buf.slice(lt, gt + 1);
      i = gt + 1;
      if (depth === 0 && (tag.startsWith('<?') || tag.startsWith('<stream:stream') || tag.startsWith('</stream:'))) {
        consumed = i;
      } else if (tag.startsWith('</')) {
        depth--;
        if (depth === 0) {
          onElement(this.buf.slice(start, i));
          consumed = i;
        }
      } else if (tag.endsWith('/>')) {
        if (depth === 0) {
          onElement(tag);
          consumed = i;
        }
      } else {
        if (depth === 0) start = lt;
        depth++;
      }
    }
    this.buf = this.buf.slice(consumed);
  }
}

const STREAM_OPEN =
  "<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";

/** One XMPP client session (a sender with stream-management acks, or a recipient). */
export class XmppClient {
  readonly jid: string;
  private socket!: Socket;
  private splitter = new StanzaSplitter();
  private waiters: Array<{ match: (xml: string) => boolean; resolve: (xml: string) => void }> = [];
  /** Called with the id and body of every <message/> received. */
  onMessage: (id: string, body: string) => void = () => {};
  /** Called with the count of stanzas the server has handled (XEP-0198 <a h=.../>). */
  onAck: (handled: number) => void = () => {};

  constructor(
    private readonly port: number,
    private readonly user: string,
    private readonly password: string,
  ) {
    this.jid = `${user}@localhost/bench`;
  }

  private next(match: (xml: string) => boolean): Promise<string> {
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  private onElement(xml: string): void {
    if (xml.startsWith('<message')) {
      const id = /\sid=['"]([^'"]+)['"]/.exec(xml)?.[1] ?? '';
      const body = /<body>([\s\S]*?)<\/body>/.exec(xml)?.[1] ?? '';
      this.onMessage(id, body);
      return;
    }
    if (xml.startsWith('<a ') && xml.includes('urn:xmpp:sm:3')) {
      this.onAck(Number(/\sh=['"](\d+)['"]/.exec(xml)?.[1] ?? 0));
      return;
    }
    const w = this.waiters.findIndex((x) => x.match(xml));
    if (w >= 0) this.waiters.splice(w, 1)[0]?.resolve(xml);
  }

  private async open(): Promise<string> {
    const features = this.next((x) => x.startsWith('<stream:features'));
    this.socket.write(STREAM_OPEN);
    return features;
  }

  /** Connects, registers the account (in-band) if `register`, authenticates and binds a resource. */
  async start(opts: { register: boolean; streamManagement: boolean }): Promise<void> {
    this.socket = connect({ host: '127.0.0.1', port: this.port, noDelay: true });
    this.socket.setEncoding('utf8');
    this.socket.on('data', (chunk: string) => this.splitter.push(chunk, (x) => this.onElement(x)));
    await new Promise<void>((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    await this.open();
    if (opts.register) {
      const reply = this.next((x) => x.startsWith('<iq') && x.includes("id='reg'"));
      this.socket.write(
        `<iq type='set' id='reg'><query xmlns='jabber:iq:register'><username>${xmlEscape(this.user)}</username><password>${xmlEscape(this.password)}</password></query></iq>`,
      );
      const r = await reply;
      if (!r.includes("type='result'") && !r.includes('conflict')) throw new Error(`XMPP registration failed: ${r}`);
    }
    const auth = this.next((x) => x.startsWith('<success') || x.startsWith('<failure'));
    const token = Buffer.from(`\0${this.user}\0${this.password}`).toString('base64');
    this.socket.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${token}</auth>`);
    const a = await auth;
    if (!a.startsWith('<success')) throw new Error(`XMPP authentication failed: ${a}`);
    await this.open();
    const bound = this.next((x) => x.startsWith('<iq') && x.includes("id='bind'"));
    this.socket.write(
      "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>bench</resource></bind></iq>",
    );
    const b = await bound;
    if (!b.includes("type='result'")) throw new Error(`XMPP bind failed: ${b}`);
    if (opts.streamManagement) {
      const enabled = this.next((x) => x.startsWith('<enabled') || x.startsWith('<failed'));
      this.socket.write("<enable xmlns='urn:xmpp:sm:3'/>");
      const e = await enabled;
      if (!e.startsWith('<enabled')) throw new Error(`XMPP stream management refused: ${e}`);
    }
    this.socket.write('<presence/>');
  }

  /** A chat message, followed by an ack request: the server's <a h=N/> counts it as handled. */
  send(to: string, id: string, body: string): void {
    this.socket.write(
      `<message to='${to}' id='${id}' type='chat'><body>${body}</body></message><r xmlns='urn:xmpp:sm:3'/>`,
    );
  }

  close(): void {
    this.socket.end('</stream:stream>');
    this.socket.destroy();
  }
}
