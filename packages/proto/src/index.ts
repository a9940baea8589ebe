// The generated protobuf-es modules (src/gen, written by `pnpm generate`, never edited by hand).
export * from './gen/snaptalker/v1/keys_pb.js';
export * from './gen/snaptalker/v1/messages_pb.js';
