import type { MessageInitShape } from '@bufbuild/protobuf';
import {
  type EnvelopeSchema,
  EnvelopeType,
  type MessageService,
  MessageStatus,
  type SendMessageRequest,
  type StreamMessagesResponseSchema,
} from '@snaptalker/proto';
import { AppError } from '../../domain/errors.js';
import { parseOrThrow } from '../../domain/validation.js';
import type { Services } from '../../services/index.js';
import type { DeviceStream } from '../../services/messaging/device-stream.js';
import {
  AckInput,
  type Envelope,
  QueueQuery,
  SendInput,
  type StreamEvent,
} from '../../services/messaging/messaging.schemas.js';
import { authenticate } from './auth.js';
import { optionalB64, optionalBytes, toB64 } from './codec.js';
import { streamEndError } from './errors.js';
import { type Handlers, send } from './service-adapter.js';

const envelopeTypes = {
  prekey: EnvelopeType.PREKEY,
  message: EnvelopeType.MESSAGE,
  receipt: EnvelopeType.RECEIPT,
} as const;
const envelopeTypeNames = new Map<EnvelopeType, string>(Object.entries(envelopeTypes).map(([name, v]) => [v, name]));
const statuses = { sent: MessageStatus.SENT, delivered: MessageStatus.DELIVERED, read: MessageStatus.READ } as const;

/** The request in the JSON shape of POST /messages/send, so the REST schema judges it. */
function sendBody(req: SendMessageRequest) {
  return {
    recipientId: req.recipientId,
    clientMessageId: req.clientMessageId,
    messages: req.messages.map((m) => ({
      deviceId: m.deviceId,
      registrationId: m.registrationId,
      // UNSPECIFIED (or an unknown number) stays undefined and fails validation like a missing `type`.
      type: envelopeTypeNames.get(m.type),
      content: toB64(m.content),
      iv: optionalB64(m.iv),
      messageNumber: m.messageNumber,
    })),
  };
}

function toProtoEnvelope(e: Envelope): MessageInitShape<typeof EnvelopeSchema> {
  return {
    ...e,
    type: envelopeTypes[e.type],
    status: statuses[e.status],
    content: optionalBytes(e.content),
    iv: optionalBytes(e.iv),
    messageNumber: e.messageNumber ?? undefined,
    clientMessageId: e.clientMessageId ?? undefined,
  };
}

function toStreamResponse(e: StreamEvent): MessageInitShape<typeof StreamMessagesResponseSchema> {
  switch (e.type) {
    case 'message':
      return { event: { case: 'envelope', value: toProtoEnvelope(e.envelope) } };
    case 'queue.empty':
      return { event: { case: 'queueEmpty', value: {} } };
    case 'message.status':
      return { event: { case: 'messageStatus', value: { id: e.id, status: statuses[e.status], at: e.at } } };
    case 'keys.low':
      return {
        event: { case: 'keysLow', value: { preKeyCount: e.preKeyCount, kyberPreKeyCount: e.kyberPreKeyCount } },
      };
  }
}

/**
 * This node's live gRPC streams, so shutdown ends every one with UNAVAILABLE and clients reconnect.
 * (Acknowledged ids are trimmed from streams by MessagingService.ack itself, for every transport.)
 */
export class LiveStreams {
  private readonly byDevice = new Map<string, Set<DeviceStream>>();
  private closing = false;

  get shuttingDown(): boolean {
    return this.closing;
  }

  add(stream: DeviceStream): () => void {
    const key = `${stream.actor.userId}:${stream.actor.deviceId}`;
    const set = this.byDevice.get(key) ?? new Set();
    this.byDevice.set(key, set.add(stream));
    return () => {
      set.delete(stream);
      if (set.size === 0 && this.byDevice.get(key) === set) this.byDevice.delete(key);
    };
  }

  closeAll(): void {
    this.closing = true;
    for (const set of this.byDevice.values()) for (const s of set) s.close();
  }
}

export function messageService(services: Services, live: LiveStreams): Handlers<typeof MessageService> {
  return {
    async sendMessage(req, call) {
      const actor = await authenticate(services, call);
      return services.messaging.send(actor, parseOrThrow(SendInput, sendBody(req)));
    },

    async getMessages(req, call) {
      const actor = await authenticate(services, call);
      const { limit } = parseOrThrow(QueueQuery, { limit: req.limit || undefined });
      const { messages, more } = await services.messaging.queue(actor, limit);
      for (const e of messages) {
        if (!(await send(call, { item: { case: 'envelope', value: toProtoEnvelope(e) } }))) return;
      }
      await send(call, { item: { case: 'end', value: { more } } });
    },

    async markDelivered(req, call) {
      const actor = await authenticate(services, call);
      const { ids } = parseOrThrow(AckInput, { ids: req.ids });
      await services.messaging.ack(actor, ids);
      return {};
    },

    async streamMessages(_req, call) {
      const actor = await authenticate(services, call);
      const stream = await services.messaging.openStream(actor);
      const release = live.add(stream);
      // Client cancel and deadline both surface as 'cancelled': closing the stream ends events(),
      // whose cleanup releases the broker subscriptions. (Checked again in case it came during open.)
      call.once('cancelled', () => stream.close());
      if (call.cancelled || live.shuttingDown) stream.close();
      try {
        for await (const event of stream.events()) {
          if (!(await send(call, toStreamResponse(event)))) break;
        }
      } finally {
        release();
      }
      if (call.cancelled) return;
      if (live.shuttingDown) throw new AppError('UNAVAILABLE', 'server shutting down; reconnect');
      if (stream.ended) throw streamEndError(stream.ended);
    },
  };
}
