/**
 * The service's Prometheus metrics, in a registry of their own (one per service, so that tests
 * can build several): requests and latency per route, event-store latency per operation,
 * requests per model call, requests dropped before it, reloads, and the bundle being served.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  const requests = new Counter({
    name: 'cammsr_http_requests_total',
    help: 'HTTP requests by route, method and status code',
    labelNames: ['route', 'method', 'status'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'cammsr_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['route', 'method'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const storeLatency = new Histogram({
    name: 'cammsr_store_duration_seconds',
    help: 'Event store latency by operation',
    labelNames: ['operation', 'store'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  const batchSize = new Histogram({
    name: 'cammsr_model_batch_size',
    help: 'Requests answered by one model call (micro-batching)',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers: [registry],
  });
  const dropped = new Counter({
    name: 'cammsr_dropped_requests_total',
    help: 'Recommendation requests dropped before their model call, by reason (client-gone, deadline)',
    labelNames: ['reason'],
    registers: [registry],
  });
  const modelInfo = new Gauge({
    name: 'cammsr_model_info',
    help: 'The bundle being served (value 1)',
    labelNames: ['model', 'version', 'dataset', 'cammsr'],
    registers: [registry],
  });
  const reloads = new Counter({
    name: 'cammsr_reloads_total',
    help: 'Bundle reloads by outcome',
    labelNames: ['outcome'],
    registers: [registry],
  });

  return { registry, requests, latency, storeLatency, batchSize, dropped, modelInfo, reloads };
}
