// Node entry: the E2EE client (libsignal ships a native build for Node only) and a file store.
export * from './index.js';
export {
  type ClientEvents,
  type ConnectOptions,
  type ReceivedMessage,
  type Session,
  SnapTalkerClient,
} from './client.js';
export { FileKeyValueStore } from './file-store.js';
export {
  type AttachmentPointer,
  AttachmentIntegrityError,
  decryptAttachment,
  type EncryptedAttachment,
  encryptAttachment,
  paddedSize,
} from './attachments.js';
export * from './protocol/index.js';
