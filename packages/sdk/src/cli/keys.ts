import type { IdentityKeyPair } from '@signalapp/libsignal-client';
import type { Session } from '../client.js';
import { FileKeyValueStore } from '../file-store.js';
import { SignalDevice } from '../protocol/device.js';
import { errorCode } from '../transport.js';
import type { Context } from './context.js';
import { CliError, EXIT } from './exit.js';
import { authedTransport, loadDevice, openClient, saveSession } from './session.js';

/**
 * Records a new session for a new device (after verify or login) and creates its Signal identity:
 * fresh for a new account, the account's own when linking. Old sessions and prekeys are dropped,
 * since they belonged to a previous device of this profile.
 */
export async function startDevice(
  ctx: Context,
  s: Session,
  opts: { username?: string; identity?: IdentityKeyPair },
): Promise<void> {
  const { profile } = ctx;
  profile.state.server = ctx.server;
  profile.state.account = { userId: s.userId, deviceId: s.deviceId, username: opts.username };
  profile.state.keysUploaded = false;
  delete profile.state.pending;
  await saveSession(profile, s);
  await profile.resetSignalState();
  await SignalDevice.create({
    userId: s.userId,
    deviceId: s.deviceId,
    identity: opts.identity,
    store: new FileKeyValueStore(profile.signalPath),
  });
}

/** Generates prekeys (the first batch with identity, signed prekey and last-resort Kyber key) and uploads them. */
export async function uploadKeys(ctx: Context, preKeys: number): Promise<void> {
  const { profile } = ctx;
  const { account } = profile.signedIn();
  const device = await loadDevice(profile);
  if (!device || device.userId !== account.userId || device.deviceId !== account.deviceId) {
    // A profile whose keys were never made (or belong to an older device): start this device's state.
    await SignalDevice.create({
      userId: account.userId,
      deviceId: account.deviceId,
      identity: device?.userId === account.userId ? device.identity : undefined,
      store: new FileKeyValueStore(profile.signalPath),
    });
    profile.state.keysUploaded = false;
  }
  const client = await openClient(profile, ctx.server);
  try {
    const count = await client.uploadKeys(!profile.state.keysUploaded, preKeys);
    profile.state.keysUploaded = true;
    await profile.save();
    ctx.info(`keys uploaded: ${count} one-time prekeys on the server; this device can now receive messages`);
  } catch (e) {
    if (errorCode(e) === 'CONFLICT') {
      throw new CliError(
        EXIT.SERVER,
        'CONFLICT: this account already has another identity key (it lives on its first device).\n' +
          'Link this device with that identity instead: `snaptalker --profile <new> link --from <first profile>`',
      );
    }
    throw e;
  } finally {
    client.close();
  }
}

export async function keysStatus(ctx: Context, json: boolean): Promise<void> {
  const { profile } = ctx;
  const { account } = profile.signedIn();
  const device = await loadDevice(profile);
  const t = await authedTransport(profile, ctx.server);
  try {
    const counts = await t.trpc.keys.count.query();
    const status = {
      userId: account.userId,
      deviceId: account.deviceId,
      registrationId: device?.registrationId ?? null,
      identityKey: device?.identityKeyB64() ?? null,
      uploaded: profile.state.keysUploaded === true,
      ...counts,
    };
    if (json) ctx.out(JSON.stringify(status));
    else {
      ctx.out(`device ${status.deviceId} of ${status.userId}`);
      ctx.out(`identity key: ${status.identityKey ?? '(none)'}`);
      ctx.out(`registration id: ${status.registrationId ?? '(none)'}`);
      ctx.out(`one-time prekeys on the server: ${counts.preKeyCount} EC, ${counts.kyberPreKeyCount} Kyber`);
      if (!status.uploaded)
        ctx.info('no keys uploaded: others cannot message this device until `snaptalker keys upload`');
    }
  } finally {
    t.close();
  }
}
