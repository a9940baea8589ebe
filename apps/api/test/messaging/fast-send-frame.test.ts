import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AnySendInput, fastSendFrame, MAX_CONTENT_BYTES } from '../../src/services/messaging/messaging.schemas.js';
import { ClientFrame } from '../../src/transports/ws/messages.socket.js';

/** What the socket did before the fast path: the frame schema, then the send schemas; undefined if refused. */
function viaZod(json: unknown) {
  const frame = ClientFrame.safeParse(json);
  if (!frame.success || frame.data.type !== 'send') return undefined;
  const { type: _t, requestId, ...body } = frame.data;
  const input = AnySendInput.safeParse(body);
  return input.success ? { requestId, input: input.data } : undefined;
}

const b64 = (n: number) => Buffer.alloc(n, 7).toString('base64');
const atLimit = b64(MAX_CONTENT_BYTES);
const overLimit = b64(MAX_CONTENT_BYTES + 1);

const int32ish = fc.oneof(
  fc.integer({ min: -5, max: 20_000 }),
  fc.constantFrom(0, 1, 16_380, 16_381, 2_147_483_647, 2_147_483_648, 1.5, Number.MAX_SAFE_INTEGER + 2),
  fc.constantFrom('1', null, true, [], {}),
);
const base64ish = fc.oneof(
  fc.base64String({ maxLength: 48 }),
  fc.constantFrom('', 'YQ', 'YQ=', 'YQ==', 'YWJj', 'YW Jj', 'YWJj\n', '====', '-_-_', atLimit, overLimit),
  fc.string({ maxLength: 12 }),
  fc.constantFrom(null, 5, ['YQ==']),
);
const uuidish = fc.oneof(
  fc.uuid(),
  fc.uuid().map((u) => u.toUpperCase()),
  fc.constantFrom(
    '00000000-0000-0000-0000-000000000000',
    'ffffffff-ffff-ffff-ffff-ffffffffffff',
    '123e4567-e89b-02d3-a456-426614174000',
    '123e4567-e89b-12d3-c456-426614174000',
    'not-a-uuid',
    '',
    7,
    null,
  ),
);
const validEnvelope = fc
  .record(
    {
      deviceId: fc.integer({ min: 1, max: 2_147_483_647 }),
      registrationId: fc.integer({ min: 1, max: 16_380 }),
      type: fc.constantFrom('prekey', 'message', 'receipt'),
      content: fc.oneof(fc.base64String({ minLength: 4, maxLength: 48 }), fc.constantFrom('YQ==', 'YWI=')),
      iv: fc.oneof(fc.base64String({ maxLength: 24 }), fc.constant(null)),
      messageNumber: fc.oneof(fc.integer({ min: 0, max: 2_147_483_647 }), fc.constant(null)),
    },
    { requiredKeys: ['deviceId', 'registrationId', 'type', 'content'] },
  )
  .filter((e) => e.content.length > 0);

const validFrame = fc.record(
  {
    type: fc.constant('send'),
    requestId: fc.string({ minLength: 1, maxLength: 64 }),
    recipientId: fc.uuid(),
    clientMessageId: fc.uuid(),
    messages: fc.array(validEnvelope, { minLength: 1, maxLength: 3 }),
  },
  { requiredKeys: ['type', 'requestId', 'recipientId', 'messages'] },
);

const b64chars = (n: number) => 'QUJD'.repeat(n / 4);
const ints = (...extra: unknown[]) => fc.constantFrom<unknown>(1.5, -1, '1', null, true, [], ...extra);
/** Per field, the values at and beyond its bounds (and of the wrong type); undefined deletes the field. */
const FRAME_VALUES: Record<string, fc.Arbitrary<unknown>> = {
  type: fc.constantFrom('ack', 'ping', 'SEND', 1, null, undefined),
  requestId: fc.constantFrom('', 'r', 'r'.repeat(64), 'r'.repeat(65), 5, null, undefined),
  recipientId: fc.oneof(uuidish, fc.constant(undefined)),
  clientMessageId: fc.oneof(uuidish, fc.constant(undefined)),
  messages: fc.constantFrom([], 'x', null, {}, [null], [[]], [1], undefined),
  encryptedContent: base64ish,
  extra: fc.constantFrom(1, 'x', null, {}),
};
const ENVELOPE_VALUES: Record<string, fc.Arbitrary<unknown>> = {
  deviceId: fc.oneof(ints(0, 1, 2_147_483_647, 2_147_483_648, undefined), int32ish),
  registrationId: fc.oneof(ints(0, 1, 16_380, 16_381, undefined), int32ish),
  type: fc.constantFrom('Message', 'other', '', 1, null, undefined),
  content: fc.oneof(base64ish, fc.constant(undefined)),
  iv: fc.oneof(base64ish, fc.constantFrom(b64chars(1024), b64chars(1028), undefined)),
  messageNumber: fc.oneof(ints(0, 2_147_483_647, 2_147_483_648, undefined), int32ish),
  extra: fc.constantFrom(1, 'x', null),
  ['__proto__']: fc.constantFrom(1, {}),
};
const pick = (values: Record<string, fc.Arbitrary<unknown>>, onEnvelope: boolean) =>
  fc.oneof(
    ...Object.entries(values).map(([key, value]) =>
      fc.record({ onEnvelope: fc.constant(onEnvelope), envelope: fc.nat(3), key: fc.constant(key), value }),
    ),
  );
/** Sets (or deletes) one field of the frame or of one of its envelopes. */
const mutation = fc.oneof(pick(FRAME_VALUES, false), pick(ENVELOPE_VALUES, true));

const frame = fc.tuple(validFrame, fc.array(mutation, { maxLength: 2 })).map(([f, muts]) => {
  const out: Record<string, unknown> = JSON.parse(JSON.stringify(f));
  for (const m of muts) {
    const envs = Array.isArray(out.messages) ? (out.messages as unknown[]) : [];
    const env = m.onEnvelope ? envs[m.envelope % Math.max(1, envs.length)] : undefined;
    const target = env && typeof env === 'object' ? (env as Record<string, unknown>) : out;
    if (m.value === undefined) delete target[m.key];
    // defineProperty: an own "__proto__" key, as JSON.parse makes it.
    else Object.defineProperty(target, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
  }
  return out;
});

describe('the hand-written send-frame parser', () => {
  it('accepts exactly the frames the zod schemas accept (messages form) and returns the same values', () => {
    let accepted = 0;
    fc.assert(
      fc.property(frame, (json) => {
        // Through JSON, as the socket sees it.
        const parsed: unknown = JSON.parse(JSON.stringify(json));
        const fast = fastSendFrame(parsed);
        const slow = viaZod(JSON.parse(JSON.stringify(json)));
        const messagesForm = slow !== undefined && 'messages' in slow.input;
        if (fast) accepted++;
        expect(fast !== undefined, JSON.stringify(json).slice(0, 300)).toBe(messagesForm);
        if (fast) expect(fast).toEqual(slow);
      }),
      { seed: 1204, numRuns: 3_000 },
    );
    // The generator reaches the accepting side often enough for the property to mean something.
    expect(accepted).toBeGreaterThan(1_000);
  });

  it('a valid frame at the 256 KiB limit passes, one byte more goes to zod (which refuses it)', () => {
    const f = (content: string) => ({
      type: 'send',
      requestId: 'r1',
      recipientId: '6f1c2b1e-8d3a-4c5e-9f7a-1b2c3d4e5f60',
      messages: [{ deviceId: 1, registrationId: 7, type: 'message', content }],
    });
    expect(fastSendFrame(f(atLimit))?.input.messages[0]?.content).toBe(atLimit);
    expect(fastSendFrame(f(overLimit))).toBeUndefined();
    expect(viaZod(f(overLimit))).toBeUndefined();
  });
});
