import { FileKeyValueStore } from '../file-store.js';
import { SignalDevice } from '../protocol/device.js';
import type { Context } from './context.js';
import { CliError, EXIT } from './exit.js';
import { Profile } from './profile.js';
import { anonymousTransport, authedTransport } from './session.js';
import { startDevice, uploadKeys } from './keys.js';

export async function register(ctx: Context, o: { username: string; phone: string; password: string }): Promise<void> {
  const anon = anonymousTransport(ctx.server);
  try {
    const r = await anon.trpc.auth.register.mutate(o);
    ctx.profile.state.server = ctx.server;
    ctx.profile.state.pending = { username: o.username, phone: o.phone };
    await ctx.profile.save();
    ctx.info(`a one-time code was sent to ${o.phone}; next: snaptalker --profile ${ctx.profile.name} verify <code>`);
    ctx.out(r.userId);
  } finally {
    anon.close();
  }
}

export async function verify(ctx: Context, code: string, o: { deviceName?: string; keys: boolean; preKeys: number }) {
  const pending = ctx.profile.state.pending;
  if (!pending)
    throw new CliError(
      EXIT.STATE,
      `profile "${ctx.profile.name}" has no pending registration: run \`snaptalker register\``,
    );
  const anon = anonymousTransport(ctx.server);
  try {
    const s = await anon.trpc.auth.verify.mutate({ phone: pending.phone, code, deviceName: o.deviceName });
    await startDevice(ctx, s, { username: pending.username });
    ctx.info(`verified: ${pending.username} is ${s.userId}, this is device ${s.deviceId}`);
  } finally {
    anon.close();
  }
  if (o.keys) await uploadKeys(ctx, o.preKeys);
  ctx.out(ctx.profile.state.account?.userId ?? '');
}

/**
 * Signs in as a new device. Every device of an account shares its identity key: reused from this
 * profile's earlier device, or from `identityFrom` (another profile on this machine, standing in for
 * the provisioning transfer a phone app would do).
 */
export async function login(
  ctx: Context,
  o: { login?: string; password: string; deviceName?: string; keys: boolean; preKeys: number; identityFrom?: string },
): Promise<void> {
  let identity: SignalDevice | null = null;
  let loginName = o.login;
  if (o.identityFrom) {
    const other = await Profile.open(o.identityFrom);
    identity = await SignalDevice.load(new FileKeyValueStore(other.signalPath));
    if (!identity) throw new CliError(EXIT.STATE, `profile "${o.identityFrom}" has no device keys to link from`);
    loginName ??= other.state.account?.username;
  } else {
    identity = await SignalDevice.load(new FileKeyValueStore(ctx.profile.signalPath));
  }
  loginName ??= ctx.profile.state.account?.username;
  if (!loginName) throw new CliError(EXIT.USAGE, 'which account? pass --login <username or phone>');
  const anon = anonymousTransport(ctx.server);
  try {
    const s = await anon.trpc.auth.login.mutate({ login: loginName, password: o.password, deviceName: o.deviceName });
    const sameAccount = identity?.userId === s.userId;
    await startDevice(ctx, s, {
      username: loginName.startsWith('+') ? ctx.profile.state.account?.username : loginName,
      identity: sameAccount ? identity?.identity : undefined,
    });
    ctx.info(`signed in as ${loginName}: this is device ${s.deviceId} of ${s.userId}`);
  } finally {
    anon.close();
  }
  if (o.keys) await uploadKeys(ctx, o.preKeys);
  ctx.out(ctx.profile.state.account?.userId ?? '');
}

export async function logout(ctx: Context): Promise<void> {
  const t = await authedTransport(ctx.profile, ctx.server);
  try {
    await t.trpc.auth.logout.mutate();
  } finally {
    t.close();
  }
  // Keep the account and identity: `login` on this profile links a new device with the same identity.
  delete ctx.profile.state.tokens;
  ctx.profile.state.keysUploaded = false;
  await ctx.profile.save();
  ctx.info(`profile "${ctx.profile.name}" logged out`);
}

export async function devices(ctx: Context, json: boolean): Promise<void> {
  const t = await authedTransport(ctx.profile, ctx.server);
  try {
    const me = await t.trpc.auth.me.query();
    if (json) {
      ctx.out(JSON.stringify(me));
      return;
    }
    const self = ctx.profile.state.account?.deviceId;
    ctx.out(`${me.username} (${me.userId})`);
    for (const d of me.devices) {
      const name = d.name ?? '(unnamed)';
      ctx.out(
        `  ${d.deviceId}${d.deviceId === self ? '*' : ' '} ${name}  linked ${d.createdAt}  seen ${d.lastSeenAt ?? '-'}`,
      );
    }
  } finally {
    t.close();
  }
}

export async function unlink(ctx: Context, deviceId: number): Promise<void> {
  const t = await authedTransport(ctx.profile, ctx.server);
  try {
    await t.trpc.auth.unlinkDevice.mutate({ deviceId });
    ctx.info(`device ${deviceId} unlinked`);
  } finally {
    t.close();
  }
}

export async function whoami(ctx: Context, json: boolean): Promise<void> {
  const account = ctx.profile.state.account;
  if (!account)
    throw new CliError(EXIT.STATE, `profile "${ctx.profile.name}" has no account yet: run \`snaptalker register\``);
  if (json) ctx.out(JSON.stringify({ ...account, server: ctx.server, profile: ctx.profile.name }));
  else ctx.out(account.userId);
}
