/**
 * Child process: the HTTP load generator. It runs autocannon (one connection per unit of
 * concurrency, keep-alive, no pipelining) against 127.0.0.1 only, after checking a few requests'
 * statuses, and returns one measurement per call. Never run in the server's process.
 */
import { performance } from 'node:perf_hooks';
import autocannon, { type AutocannonRequest } from 'autocannon';
import type { Measurement } from '../scenario.js';
import { serveRunner } from './child-rpc.js';
import { LatencyRecorder, measurement } from './latency-stats.js';
import { createValueSource, expand, type RequestTemplate, type ValueSource } from './request-template.js';

/** What one `run` call measures. */
export interface LoadParams {
  /** `http://127.0.0.1:<port>`; any other host is refused. */
  readonly origin: string;
  readonly template: RequestTemplate;
  readonly ids: readonly string[];
  readonly connections: number;
  readonly durationSec: number;
  readonly warmupSec: number;
}

const CHECK_REQUESTS = 3;
const REQUEST_TIMEOUT_SEC = 5;
const MAX_DURATION_SEC = 120;
/** autocannon checks for the end of a run once per sample; its 1 s default rounds runs up to whole seconds. */
const SAMPLE_MS = 25;
/** How long past the warm-up the window waits for every connection to have answered once. */
const MAX_CONNECT_WAIT_MS = 10_000;

/** The template's headers, with the JSON content type when it has a body. */
function headersOf(template: RequestTemplate): Record<string, string> {
  return { ...(template.body === undefined ? {} : { 'content-type': 'application/json' }), ...template.headers };
}

/** Sends a few requests one by one and throws, quoting the answer, unless each has the expected status. */
async function checkStatus(origin: string, template: RequestTemplate, source: ValueSource): Promise<void> {
  for (let i = 0; i < CHECK_REQUESTS; i++) {
    const path = expand(template.path, source);
    const body = template.body === undefined ? undefined : expand(template.body, source);
    const response = await fetch(origin + path, {
      method: template.method,
      headers: headersOf(template),
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_SEC * 1000),
    });
    const text = await response.text();
    if (response.status !== template.expectStatus) {
      throw new Error(`${template.method} ${path} answered ${response.status}, expected ${template.expectStatus}: ${text.slice(0, 300)}`);
    }
  }
}

/**
 * One autocannon run of warm-up then measurement on the same keep-alive connections. The
 * measured window opens once the warm-up time is over and every connection has had a response:
 * a busy Node server accepts about one new connection per event-loop turn, so at c=64 the last
 * connections can wait a second or more for their first answer, which is connection set-up, not
 * the steady state this measures. Only responses completing inside the window count.
 */
function cannon(params: LoadParams, source: ValueSource): Promise<Measurement> {
  const { template } = params;
  const request: AutocannonRequest = {
    method: template.method,
    path: template.path,
    headers: headersOf(template),
    ...(template.body === undefined ? {} : { body: template.body }),
    setupRequest: (req) => {
      req.path = expand(template.path, source);
      if (template.body !== undefined) req.body = expand(template.body, source);
      return req;
    },
  };
  const latencies = new LatencyRecorder();
  const statusCodes: Record<string, number> = {};
  const answered = new Set<unknown>();
  const windowMs = params.durationSec * 1000;
  const warmUntil = performance.now() + params.warmupSec * 1000;
  let from = Number.POSITIVE_INFINITY;
  let to = Number.POSITIVE_INFINITY;
  let errors = 0;
  let non2xx = 0;

  return new Promise((resolve, reject) => {
    const instance = autocannon(
      // The duration is only a bound: the run is stopped when the window closes.
      { url: params.origin, connections: params.connections, duration: MAX_DURATION_SEC, timeout: REQUEST_TIMEOUT_SEC, sampleInt: SAMPLE_MS, requests: [request] },
      (err: Error | null) => {
        if (err) return reject(err);
        if (from === Number.POSITIVE_INFINITY) return reject(new Error('the run ended before its measured window opened'));
        resolve(measurement(latencies.count, windowMs / 1000, latencies, { errors, non2xx, statusCodes }));
      },
    );
    const open = (now: number): void => {
      if (from !== Number.POSITIVE_INFINITY) return;
      clearTimeout(fallback);
      from = now;
      to = now + windowMs;
      setTimeout(() => instance.stop(), windowMs);
    };
    // With no responses at all (a dead server), open anyway so the errors get counted.
    const fallback = setTimeout(() => open(performance.now()), params.warmupSec * 1000 + MAX_CONNECT_WAIT_MS);
    instance.on('response', (client: unknown, status: number, _bytes: number, ms: number) => {
      const now = performance.now();
      if (from === Number.POSITIVE_INFINITY) {
        answered.add(client);
        if (now >= warmUntil && (answered.size >= params.connections || now >= warmUntil + MAX_CONNECT_WAIT_MS)) open(now);
        return;
      }
      if (now > to) return;
      latencies.record(ms);
      statusCodes[status] = (statusCodes[status] ?? 0) + 1;
      if (status < 200 || status > 299) non2xx++;
    });
    instance.on('reqError', () => {
      const now = performance.now();
      if (now >= from && now <= to) errors++;
    });
  });
}

async function run(raw: unknown): Promise<Measurement> {
  const params = raw as LoadParams;
  const origin = new URL(params.origin);
  if (origin.hostname !== '127.0.0.1' || origin.protocol !== 'http:') throw new Error(`refusing to load ${params.origin}: only http://127.0.0.1 is a target`);
  if (!(params.durationSec > 0 && params.warmupSec >= 0 && params.durationSec + params.warmupSec + MAX_CONNECT_WAIT_MS / 1000 < MAX_DURATION_SEC))
    throw new Error(`duration must be in (0, ${MAX_DURATION_SEC}] s`);
  if (!(Number.isInteger(params.connections) && params.connections >= 1 && params.connections <= 1024)) throw new Error('connections must be 1..1024');
  const source = createValueSource(params.ids);
  await checkStatus(params.origin, params.template, source);
  return cannon(params, source);
}

serveRunner({ run });
