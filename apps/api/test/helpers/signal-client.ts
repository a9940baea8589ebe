// Tests use the SDK's libsignal device: the same code real TypeScript clients run.
export * from '@snaptalker/sdk/protocol';
