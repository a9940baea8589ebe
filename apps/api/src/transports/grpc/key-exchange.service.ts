import type { KeyExchangeService } from '@snaptalker/proto';
import { parseOrThrow } from '../../domain/validation.js';
import type { Services } from '../../services/index.js';
import { BundleParams, BundleQuery, SignedPreKey, UploadKeysInput } from '../../services/keys/keys.schemas.js';
import { authenticate } from './auth.js';
import { fromB64, optionalB64, toB64 } from './codec.js';
import type { Handlers } from './service-adapter.js';

// Requests become the JSON shape of the REST bodies (the strict schemas see exactly those keys)…
const preKeyJson = (k: { keyId: number; publicKey: Uint8Array }) => ({ keyId: k.keyId, publicKey: toB64(k.publicKey) });
const signedKeyJson = (k: { keyId: number; publicKey: Uint8Array; signature: Uint8Array }) => ({
  ...preKeyJson(k),
  signature: toB64(k.signature),
});

// …and bundle replies go from base64 back to bytes.
const preKeyBytes = (k: { keyId: number; publicKey: string }) => ({ keyId: k.keyId, publicKey: fromB64(k.publicKey) });
const signedKeyBytes = (k: { keyId: number; publicKey: string; signature: string }) => ({
  ...preKeyBytes(k),
  signature: fromB64(k.signature),
});

export function keyExchangeService(services: Services): Handlers<typeof KeyExchangeService> {
  return {
    async uploadKeyBundle(req, call) {
      const actor = await authenticate(services, call);
      const input = parseOrThrow(UploadKeysInput, {
        identityKey: optionalB64(req.identityKey),
        registrationId: req.registrationId,
        signedPreKey: req.signedPreKey && signedKeyJson(req.signedPreKey),
        preKeys: req.preKeys.map((k) => preKeyJson(k)),
        kyberPreKeys: req.kyberPreKeys.map((k) => signedKeyJson(k)),
        kyberLastResortPreKey: req.kyberLastResortPreKey && signedKeyJson(req.kyberLastResortPreKey),
      });
      return services.keys.upload(actor, input);
    },

    async getKeyBundle(req, call) {
      const actor = await authenticate(services, call);
      const { userId } = parseOrThrow(BundleParams, { userId: req.userId });
      const { deviceId } = parseOrThrow(BundleQuery, { deviceId: req.deviceId });
      const bundle = await services.keys.bundle(actor, userId, deviceId);
      return {
        userId: bundle.userId,
        identityKey: fromB64(bundle.identityKey),
        devices: bundle.devices.map((d) => ({
          deviceId: d.deviceId,
          registrationId: d.registrationId,
          signedPreKey: signedKeyBytes(d.signedPreKey),
          preKey: d.preKey && preKeyBytes(d.preKey),
          kyberPreKey: d.kyberPreKey && signedKeyBytes(d.kyberPreKey),
        })),
      };
    },

    async rotateSignedPreKey(req, call) {
      const actor = await authenticate(services, call);
      await services.keys.rotateSignedPreKey(actor, parseOrThrow(SignedPreKey, signedKeyJson(req)));
      return {};
    },
  };
}
