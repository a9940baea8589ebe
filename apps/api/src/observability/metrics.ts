import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Upper bounds of message_delivery_latency_seconds (the admin dashboard's node_stats store counts per bucket). */
export const DELIVERY_LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300, 3600] as const;

/** One registry per server instance, so several servers in one process (tests) never collide. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    wsConnections: new Gauge({
      name: 'ws_connections',
      help: 'Open WebSocket connections by endpoint',
      labelNames: ['endpoint'] as const,
      registers: [registry],
    }),
    messagesSent: new Counter({ name: 'messages_sent_total', help: 'Envelopes accepted', registers: [registry] }),
    messagesDelivered: new Counter({
      name: 'messages_delivered_total',
      help: 'Envelopes acknowledged by their recipient device',
      registers: [registry],
    }),
    // Names and labels after go-grpc-prometheus, so stock gRPC dashboards and rules apply.
    grpcHandled: new Counter({
      name: 'grpc_server_handled_total',
      help: 'gRPC calls completed, by service, method, type and status code',
      labelNames: ['grpc_service', 'grpc_method', 'grpc_type', 'grpc_code'] as const,
      registers: [registry],
    }),
    grpcDuration: new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'gRPC call duration until the final status (streams: their whole life)',
      labelNames: ['grpc_service', 'grpc_method', 'grpc_type'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 30, 300],
      registers: [registry],
    }),
    streamQueueReads: new Counter({
      name: 'message_stream_queue_reads_total',
      help: 'Queue reads by live streams: on connect, when pushes could not be held or were handed off, on rescan',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    sendBatchSize: new Histogram({
      name: 'message_send_batch_size',
      help: 'Sends stored per group-commit statement',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 512],
      registers: [registry],
    }),
    attachmentUploads: new Counter({
      name: 'attachment_uploads_total',
      help: 'Attachment uploads by outcome (complete, size_mismatch, missing, too_large, quota_exceeded, abandoned)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    attachmentBytesUploaded: new Counter({
      name: 'attachment_uploaded_bytes_total',
      help: 'Bytes of completed attachment uploads',
      registers: [registry],
    }),
    deliveryLatency: new Histogram({
      name: 'message_delivery_latency_seconds',
      help: 'Time from send accepted to recipient acknowledgement',
      buckets: [...DELIVERY_LATENCY_BUCKETS_S],
      registers: [registry],
    }),
    callOutcomes: new Counter({
      name: 'call_outcomes_total',
      help: 'Calls ended, by end reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    callRingToAnswer: new Histogram({
      name: 'call_ring_to_answer_seconds',
      help: 'Time from offer to the answer that connected the call',
      buckets: [0.5, 1, 2, 3, 5, 8, 13, 20, 30, 45, 60],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
