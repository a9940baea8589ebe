// Browser-safe entry: the typed transport. The libsignal E2EE client is in "@snaptalker/sdk/node".
export {
  type AppRouter,
  backoff,
  createTransport,
  errorCode,
  errorDetails,
  type Transport,
  type TransportOptions,
} from './transport.js';
export { type KeyValueStore, MemoryKeyValueStore } from './kv.js';
export { b64, fromB64 } from './base64.js';
export {
  type CallEndReason,
  type CallEvent,
  type CallMedia,
  type CallParty,
  CallsClient,
  type CallsClientOptions,
  CallsError,
  type TurnCredentials,
} from './calls.js';
