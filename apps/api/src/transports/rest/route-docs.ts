import type { ErrorCode } from '../../domain/errors.js';

/**
 * What the OpenAPI document says about each operation beyond its zod schemas: a description, and the
 * exact error codes it can answer with (so a status lists only the codes this route produces, not
 * every code that shares the status). Keyed by operationId; `openapi.ts` applies it and a test checks
 * that every operation has an entry and that the codes match the statuses the route declares.
 *
 * Every route can also answer 500 `INTERNAL` and, while the server shuts down, 503 `UNAVAILABLE`.
 */
export interface RouteDoc {
  /** Absent when the operation already carries one (the hand-written WebSocket description). */
  description?: string;
  errors: readonly ErrorCode[];
}

const ALWAYS: ErrorCode[] = ['INTERNAL', 'UNAVAILABLE'];
/** A route with a JSON body: invalid or malformed, larger than 2 MiB, not `application/json`. */
const BODY: ErrorCode[] = ['VALIDATION_FAILED', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'];
/** The authenticated scope: no, bad or ended token (logout, unlink), banned account. */
const AUTH: ErrorCode[] = ['UNAUTHORIZED', 'BANNED'];

const REGISTERED =
  'A device is *registered* once it has uploaded its keys (`POST /keys/upload` with identity key, registration id ' +
  'and signed prekey): only registered devices get bundles, count in the device checks of `POST /messages/send` ' +
  'and receive messages. A device linked by login that never uploaded keys does not count.';

const REPAIR =
  'Device checks happen before anything is stored. **409 `MISMATCHED_DEVICES`**: the envelopes do not cover ' +
  'exactly the registered devices; `details.missingDevices` lack an envelope (fetch their bundles with ' +
  '`GET /keys/bundle/{userId}?deviceId=N` and open sessions), `details.extraDevices` are gone (drop their ' +
  'sessions). **410 `STALE_DEVICES`**: `details.staleDevices` were reinstalled with a new registration id ' +
  '(drop the session, fetch the bundle again). Then resend with the same `clientMessageId`.';

export const routeDocs: Record<string, RouteDoc> = {
  register: {
    description:
      'Creates a pending account and sends a 6-digit code (valid 5 minutes) to the phone through the SMS sender ' +
      '(the `OTP_WEBHOOK_URL` webhook, or the server log). Registering a phone that is still unverified replaces ' +
      'the pending registration and sends a new code. A username or phone of a verified account is 409 ' +
      '`CONFLICT`; 503 `UNAVAILABLE` when the code could not be handed to the SMS sender (nothing is kept).',
    errors: [...BODY, 'CONFLICT', 'RATE_LIMITED', ...ALWAYS],
  },
  verify: {
    description:
      'Checks the code sent by register (5 tries per code, then it is void) and opens a session on device 1. ' +
      'The device has no keys yet: upload them with `POST /keys/upload` before anyone can message it.',
    errors: [...BODY, 'INVALID_CODE', 'RATE_LIMITED', ...ALWAYS],
  },
  login: {
    description:
      'Signs in with username or phone and links a new device (ids are never reused), up to ' +
      '`MAX_DEVICES_PER_ACCOUNT` (409 `CONFLICT` beyond). Wrong password and unknown login are the same 401. ' +
      'The new device shares the account identity key and must upload its keys before it counts as registered.',
    errors: [...BODY, 'INVALID_CREDENTIALS', 'NOT_VERIFIED', 'BANNED', 'CONFLICT', 'RATE_LIMITED', ...ALWAYS],
  },
  refresh: {
    description:
      'Exchanges a refresh token for a new access and refresh token. Refresh tokens are single use: presenting ' +
      'one again is 401 `TOKEN_REUSED` and revokes every refresh token of that device.',
    errors: [...BODY, 'UNAUTHORIZED', 'TOKEN_REUSED', 'BANNED', 'RATE_LIMITED', ...ALWAYS],
  },
  logout: {
    description:
      "Revokes this device's refresh tokens; its access tokens answer 401 on the next call and its sockets close " +
      '(4401). The device stays linked (unlink it with `DELETE /devices/{deviceId}`).',
    errors: [...BODY, ...AUTH, ...ALWAYS],
  },
  me: {
    description: "The caller's account and its linked devices.",
    errors: [...AUTH, ...ALWAYS],
  },
  unlinkDevice: {
    description:
      'Removes a device with its keys and queue; its tokens stop working at once. Device 1 may unlink any other ' +
      'device, any device may unlink itself, device 1 cannot be unlinked (403 `FORBIDDEN`).',
    errors: [...BODY, 'UNAUTHORIZED', 'FORBIDDEN', 'BANNED', 'NOT_FOUND', ...ALWAYS],
  },
  uploadKeys: {
    description:
      `${REGISTERED}\n\nKeys are libsignal-serialized (EC public keys 33 bytes, Kyber1024 public keys, XEd25519 ` +
      "signatures by the identity key over each key's serialized bytes); they cannot be made with curl or " +
      'openssl, use libsignal (e.g. the SDK or the `snaptalker keys upload` CLI). `identityKey`, ' +
      "`registrationId` and `signedPreKey` are required on a device's first upload; at most 100 `preKeys` and " +
      '100 `kyberPreKeys` per call; upload a `kyberLastResortPreKey` with the first keys. Every signature is ' +
      'verified: one bad one is 400 `INVALID_SIGNATURE` and nothing is stored. The identity key belongs to the ' +
      'account: device 1 may change it (all prekeys of the account are discarded), another device sending a ' +
      "different one gets 409 `CONFLICT`. A new `registrationId` (a reinstall) discards the device's old keys.",
    errors: [...BODY, 'INVALID_SIGNATURE', ...AUTH, 'CONFLICT', ...ALWAYS],
  },
  keyBundle: {
    description:
      'One entry per registered device of the user (or only `deviceId`): signed prekey, one one-time EC prekey ' +
      'and one one-time Kyber prekey, claimed atomically (never handed out twice). Without one-time EC prekeys ' +
      '`preKey` is absent; without one-time Kyber prekeys the last-resort Kyber key is returned. 404 for an ' +
      'unknown user or one with no registered device. Rate limited per requester and per (requester, target).',
    errors: ['VALIDATION_FAILED', ...AUTH, 'NOT_FOUND', 'RATE_LIMITED', ...ALWAYS],
  },
  rotateSignedPreKey: {
    description:
      "Replaces this device's signed prekey; the signature is verified against the account identity key. 404 " +
      'before the first key upload.',
    errors: [...BODY, 'INVALID_SIGNATURE', ...AUTH, 'NOT_FOUND', 'CONFLICT', ...ALWAYS],
  },
  markPreKeyUsed: {
    description:
      "Marks one of this device's one-time prekeys used (again 204 if it already is); 404 if the device never " +
      'had that key.',
    errors: [...BODY, ...AUTH, 'NOT_FOUND', ...ALWAYS],
  },
  keyCounts: {
    description:
      'Unused one-time EC and Kyber prekeys of this device. Below `PREKEY_LOW_WATERMARK` the device gets a ' +
      '`keys.low` event: upload more.',
    errors: [...AUTH, ...ALWAYS],
  },
  sendMessage: {
    description:
      'One envelope per registered device of the recipient (sending to yourself covers your other devices), ' +
      'each with the registration id of that device and its ciphertext (opaque to the server, at most 256 KiB). ' +
      `${REGISTERED}\n\n${REPAIR}\n\nWith \`clientMessageId\` the send is idempotent: a repeat gets the first ` +
      'reply. The shorthand `{recipientId, encryptedContent, iv, messageNumber}` is accepted when the recipient ' +
      'has exactly one registered device. 404 for an unknown recipient.',
    errors: [...BODY, ...AUTH, 'NOT_FOUND', 'MISMATCHED_DEVICES', 'STALE_DEVICES', 'RATE_LIMITED', ...ALWAYS],
  },
  messageQueue: {
    description:
      'Envelopes not yet acknowledged for this device, oldest first (`more` when there are further ones). ' +
      'Acknowledge them with `POST /messages/ack`.',
    errors: ['VALIDATION_FAILED', ...AUTH, ...ALWAYS],
  },
  ackMessages: {
    description:
      "Marks up to 1000 of this device's envelopes delivered (the same as a WebSocket ack); unknown, foreign or " +
      'already acknowledged ids are ignored, so acks can be retried.',
    errors: [...BODY, ...AUTH, ...ALWAYS],
  },
  setMessageStatus: {
    description:
      'Moves an envelope addressed to this device to `delivered` or `read`; status never moves backwards and the ' +
      "reply gives the resulting one. Only the recipient device may set it (403 `FORBIDDEN`). The sender's " +
      'devices get a `message.status` event.',
    errors: [...BODY, 'UNAUTHORIZED', 'FORBIDDEN', 'BANNED', 'NOT_FOUND', ...ALWAYS],
  },
  conversation: {
    description:
      'The conversation with user `chatId` as this device sees it: envelopes from that user to this device and ' +
      'the ones this user sent to that user (without content), newest first; `nextCursor` pages to older ones.',
    errors: ['VALIDATION_FAILED', ...AUTH, ...ALWAYS],
  },
  createAttachment: {
    description:
      'Reserves an attachment of `size` bytes (at most `ATTACHMENT_MAX_BYTES`, default 100 MiB, else 413 ' +
      '`PAYLOAD_TOO_LARGE`) and returns where to PUT exactly that many bytes of ciphertext, with ' +
      '`uploadHeaders`, before `expiresAt` (at most 15 minutes). Encrypt before uploading: the server stores ' +
      'what it gets and never sees keys. The declared bytes of the uploads created in the last 24 hours count ' +
      'against `ATTACHMENT_QUOTA_BYTES_PER_DAY` (default 1 GiB): over it, 429 `RATE_LIMITED` with `Retry-After`. ' +
      '`uploadUrl` is an S3 presigned URL, or the API’s own `/attachments/{id}/blob` (disk backend: absolute with ' +
      '`PUBLIC_URL`, else a path to resolve against the API’s URL). Then call `POST /attachments/{id}/complete`; ' +
      'uploads never completed are deleted after `ATTACHMENT_UPLOAD_TTL_S`.',
    errors: [...BODY, ...AUTH, 'PAYLOAD_TOO_LARGE', 'RATE_LIMITED', ...ALWAYS],
  },
  completeAttachment: {
    description:
      'Checks the stored object: nothing uploaded, or a size other than the declared one, is 400 ' +
      '`VALIDATION_FAILED` (a wrong-sized object is deleted; upload again while the URL lasts). Completing ' +
      'twice answers the same. Only the uploader completes; for anyone else, and after the upload window, 404. ' +
      'A completed attachment is deleted `ATTACHMENT_TTL_DAYS` (default 30) after completion.',
    errors: [...BODY, ...AUTH, 'NOT_FOUND', ...ALWAYS],
  },
  getAttachment: {
    description:
      'Any authenticated user who knows the id (128 random bits, sent inside an end-to-end encrypted message) ' +
      'gets a download URL valid until `expiresAt` (at most 15 minutes); it honours `Range`. 404 for an unknown, ' +
      'incomplete, deleted or expired attachment.',
    errors: ['VALIDATION_FAILED', ...AUTH, 'NOT_FOUND', ...ALWAYS],
  },
  deleteAttachment: {
    description:
      'Deletes the attachment and its object. Only its uploader may: anyone else who knows the id gets 403 ' +
      '`FORBIDDEN`; an unknown or already deleted one is 404.',
    errors: [...BODY, 'UNAUTHORIZED', 'FORBIDDEN', 'BANNED', 'NOT_FOUND', ...ALWAYS],
  },
  uploadAttachmentBlob: {
    description:
      'Disk backend only (with S3 the upload URL points at the bucket). The signed query authorises the call: a ' +
      'bad or expired signature is 403. The body (any content type) is streamed to disk and kept only when ' +
      'complete: a `Content-Length` or a body beyond the declared size is 413 `PAYLOAD_TOO_LARGE` and a cut-off ' +
      'upload leaves nothing. 409 once the attachment is complete; 404 when it is gone or its window passed.',
    errors: ['VALIDATION_FAILED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'PAYLOAD_TOO_LARGE', ...ALWAYS],
  },
  downloadAttachmentBlob: {
    description:
      'Disk backend only. The signed query authorises the call (403 when bad or expired). Streams the ' +
      'ciphertext; a single `Range: bytes=…` is answered with 206 and `Content-Range`, one starting beyond the ' +
      'end with 416 `RANGE_NOT_SATISFIABLE` (`Content-Range: bytes */size`); other Range forms get the whole blob.',
    errors: ['VALIDATION_FAILED', 'FORBIDDEN', 'NOT_FOUND', 'RANGE_NOT_SATISFIABLE', ...ALWAYS],
  },
  messagesStream: {
    errors: [...AUTH, 'INTERNAL'],
  },
  callsSignal: {
    errors: [...AUTH, 'RATE_LIMITED', 'INTERNAL'],
  },
  callOffer: {
    description:
      'Places a call to `calleeId` (the callId is yours to choose, a UUID; a new one is made if absent) and rings ' +
      'every device of the callee with an open signaling socket (`GET /calls/signal`); the reply comes before ' +
      'anyone answers. The outcome reaches the calling device on its signaling socket: `answer`, `reject`, `busy`, ' +
      '`unavailable` (no callee device online), `hangup` with reason `timeout` after `CALL_RING_TIMEOUT_S`, or ' +
      'reason `glare` when the callee called at the same moment and its callId is lower. A used callId is 409 ' +
      '`CONFLICT`; an unknown callee 404; offers are rate limited per user (`RATE_LIMIT_CALL_OFFER`).',
    errors: [...BODY, ...AUTH, 'NOT_FOUND', 'CONFLICT', 'RATE_LIMITED', ...ALWAYS],
  },
  callAnswer: {
    description:
      "Answers a ringing call from one of the callee's devices. The first answer connects the call; the " +
      "callee's other devices get `answered-elsewhere`, a later answer is 409 `CONFLICT`. 404 for a call the " +
      'caller is not part of; 409 for an ended call; 403 from a device that is not in the call.',
    errors: [...BODY, 'UNAUTHORIZED', 'FORBIDDEN', 'BANNED', 'NOT_FOUND', 'CONFLICT', ...ALWAYS],
  },
  callIce: {
    description:
      'Relays ICE candidates (opaque strings, at most 64 KiB each, up to 100) to the other party: while ringing ' +
      'from the caller to every ringing callee device, after the answer between the two connected devices only.',
    errors: [...BODY, 'UNAUTHORIZED', 'FORBIDDEN', 'BANNED', 'NOT_FOUND', 'CONFLICT', ...ALWAYS],
  },
  callHangup: {
    description:
      'Ends the call; the other party gets `hangup` with reason `hangup`. From a ringing callee device, ' +
      '`reason: "reject"` or `"busy"` declines instead (the call ends once every ringing device declined).',
    errors: [...BODY, 'UNAUTHORIZED', 'FORBIDDEN', 'BANNED', 'NOT_FOUND', 'CONFLICT', ...ALWAYS],
  },
  getCall: {
    description:
      "One call record for its caller or callee (404 for anyone else): state, times and end reason. The callee's " +
      'devices other than the one that answered see the end reason `answered-elsewhere`.',
    errors: ['VALIDATION_FAILED', ...AUTH, 'NOT_FOUND', ...ALWAYS],
  },
  callHistory: {
    description: "The caller's own calls (placed and received), newest first; `nextCursor` pages to older ones.",
    errors: ['VALIDATION_FAILED', ...AUTH, ...ALWAYS],
  },
  turnCredentials: {
    description:
      'TURN credentials in the coturn `use-auth-secret` scheme: `username` is `<expiry unix seconds>:<userId>`, ' +
      '`credential` the base64 HMAC-SHA1 of `TURN_SECRET` over it, valid `ttl` seconds (`TURN_TTL_S`), `urls` ' +
      'from `TURN_URLS`. 503 `UNAVAILABLE` when TURN is not configured.',
    errors: [...AUTH, ...ALWAYS],
  },
  health: {
    description: '200 while the process runs; no dependency is checked (use `/ready` for that).',
    errors: [],
  },
  ready: {
    description: '200 when every backend answers; 503 `UNAVAILABLE` names the failing ones in `details.checks`.',
    errors: ['UNAVAILABLE'],
  },
  metrics: {
    description: 'Prometheus text format: HTTP durations, process metrics and the server’s own counters.',
    errors: [],
  },
};
