import type { ReceivedMessage } from '../client.js';
import { errorCode } from '../transport.js';
import type { Context } from './context.js';
import { CliError, EXIT } from './exit.js';
import { openClient } from './session.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function send(ctx: Context, to: string, text: string, json: boolean): Promise<void> {
  if (!UUID.test(to)) {
    throw new CliError(
      EXIT.USAGE,
      `send takes the recipient's user id (a UUID; they print it with \`snaptalker whoami\`): ${to}`,
    );
  }
  const client = await openClient(ctx.profile, ctx.server);
  try {
    const r = await client.send(to, text);
    if (json) ctx.out(JSON.stringify(r));
    else {
      ctx.info(`sent, end-to-end encrypted, to ${r.messages.length} device(s)`);
      for (const m of r.messages) ctx.out(m.messageId);
    }
  } catch (e) {
    // No session could be opened: the recipient has no device with uploaded keys (or does not exist).
    if (errorCode(e) === 'VALIDATION_FAILED' && (await client.device.sessionDevices(to)).length === 0) {
      throw new CliError(
        EXIT.SERVER,
        `${to} has no registered device (a device counts once it has uploaded its keys): they must run \`snaptalker keys upload\``,
      );
    }
    throw e;
  } finally {
    client.close();
  }
}

export interface ReceiveOptions {
  json: boolean;
  /** Seconds to wait for more after the queue is drained; negative: until interrupted. */
  timeout: number;
  maxMessages?: number;
}

/** How long the stream may take to deliver the stored queue before the server counts as unreachable. */
const CONNECT_TIMEOUT_MS = 15_000;

/**
 * Streams this device's messages: each is decrypted, printed and then acknowledged by the SDK (so a
 * message printed is a message the server no longer holds). Stops `timeout` seconds after the last
 * message once the stored queue has been delivered, after `maxMessages`, or on Ctrl-C.
 */
export async function receive(ctx: Context, o: ReceiveOptions): Promise<void> {
  const client = await openClient(ctx.profile, ctx.server);
  let received = 0;
  let undecryptable = 0;
  let fatal: CliError | undefined;
  try {
    await new Promise<void>((resolve) => {
      let idle: NodeJS.Timeout | undefined;
      const connecting = setTimeout(() => {
        fatal = new CliError(
          EXIT.UNREACHABLE,
          `no message stream from ${ctx.server} within ${CONNECT_TIMEOUT_MS / 1000} s`,
        );
        resolve();
      }, CONNECT_TIMEOUT_MS);
      let drained = false;
      const arm = () => {
        clearTimeout(idle);
        if (drained && o.timeout >= 0) idle = setTimeout(resolve, o.timeout * 1000);
      };
      client.on('queue.empty', () => {
        clearTimeout(connecting);
        drained = true;
        if (!o.json) ctx.info('queue drained; waiting for new messages');
        arm();
      });
      client.on('message', (m: ReceivedMessage) => {
        received++;
        if (o.json) ctx.out(JSON.stringify({ type: 'message', ...m }));
        else ctx.out(`${m.serverTimestamp} ${m.from.userId}.${m.from.deviceId}: ${m.text}`);
        if (o.maxMessages !== undefined && received >= o.maxMessages) resolve();
        else arm();
      });
      client.on('receipt', (r) => {
        if (o.json) ctx.out(JSON.stringify({ type: 'receipt', ...r }));
        else ctx.info(`receipt: ${r.id} ${r.status}`);
      });
      client.on('error', (e) => {
        const code = errorCode(e);
        if (code) {
          // The stream itself was refused (signed out, banned …): nothing more will come.
          fatal = new CliError(EXIT.SERVER, `${code}: ${e.message}`);
          resolve();
          return;
        }
        undecryptable++;
        ctx.info(`could not decrypt a message (it stays queued): ${e.message}`);
      });
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
      client.connect();
    });
    // Let acknowledgements of everything printed reach the server before closing.
    await client.flush();
  } finally {
    client.close();
  }
  if (fatal) throw fatal;
  if (!o.json) ctx.info(`${received} message(s) received`);
  if (undecryptable > 0) throw new CliError(EXIT.DECRYPT, `${undecryptable} message(s) could not be decrypted`);
}
