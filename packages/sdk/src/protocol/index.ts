export { b64, fromB64 } from '../base64.js';
export { type KeyValueStore, MemoryKeyValueStore } from '../kv.js';
export { type CreateDeviceOptions, type GenerateKeysOptions, MAX_KEY_ID, SignalDevice } from './device.js';
export type {
  BundleJson,
  Ciphertext,
  DeviceBundleJson,
  EnvelopeType,
  KeyUpload,
  PreKeyJson,
  SignedPreKeyJson,
} from './wire.js';
