/** The part of autocannon's API (v9) the load generator uses; the package ships no types. */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  /** One request of autocannon's `requests` list; `setupRequest` runs before every send. */
  interface AutocannonRequest {
    method?: string;
    path?: string;
    body?: string;
    headers?: Record<string, string>;
    setupRequest?: (request: AutocannonRequest, context: Record<string, unknown>) => AutocannonRequest;
  }

  /** Options of one run. */
  interface AutocannonOptions {
    url: string;
    connections?: number;
    duration?: number;
    amount?: number;
    timeout?: number;
    sampleInt?: number;
    pipelining?: number;
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    requests?: AutocannonRequest[];
  }

  /** The aggregated outcome of one run. */
  interface AutocannonResult {
    start: Date;
    finish: Date;
    duration: number;
    errors: number;
    timeouts: number;
    mismatches: number;
    non2xx: number;
    statusCodeStats: Record<string, { count: number }>;
    requests: { total: number; sent: number };
  }

  /** A running instance; emits `response` with (client, status, bytes, latency ms). */
  interface AutocannonInstance extends EventEmitter {
    stop(): void;
  }

  /** Starts a run; the callback gets the aggregated result when it ends. */
  function autocannon(options: AutocannonOptions, callback: (err: Error | null, result: AutocannonResult) => void): AutocannonInstance;

  export default autocannon;
  export type { AutocannonRequest, AutocannonOptions, AutocannonResult, AutocannonInstance };
}
