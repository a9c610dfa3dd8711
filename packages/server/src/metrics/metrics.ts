/** Upper bounds (seconds) of the request latency histogram. */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** Frames and bytes written to sockets, counted by every socket of the server. */
export class SendCounters {
  frames = 0;
  bytes = 0;

  /** Counts one frame of `bytes` bytes. */
  sent(bytes: number): void {
    this.frames++;
    this.bytes += bytes;
  }
}

/** The realtime layer's state when metrics are scraped. */
export interface LiveStats {
  readonly sockets: number;
  readonly subscriptions: number;
  /** Query-function watches open on WebSockets. */
  readonly fnWatches: number;
  readonly queries: number;
  readonly rooms: number;
  readonly roomMembers: number;
  readonly framesSent: number;
  readonly bytesSent: number;
  /** Sockets the server closed, by close-code name (SLOW_CONSUMER, RATE_LIMITED, ...). */
  readonly closes: Readonly<Record<string, number>>;
}

/** Gauges read when metrics are scraped. */
export interface MetricGauges {
  changeLogHead(): Promise<number>;
  dbSizeBytes(): Promise<number>;
  live?(): LiveStats;
}

/**
 * Request counters and a latency histogram, rendered as Prometheus text. Labels are bounded:
 * the route pattern (never the raw URL) and the status class.
 */
export class Metrics {
  readonly #started = Date.now();
  readonly #requests = new Map<string, number>();
  readonly #buckets = new Map<string, number[]>();
  readonly #sums = new Map<string, number>();

  /** Records one finished request. */
  observe(method: string, route: string, status: number, seconds: number): void {
    const key = `method="${method}",route="${escapeLabel(route)}",status="${Math.floor(status / 100)}xx"`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
    const hKey = `method="${method}",route="${escapeLabel(route)}"`;
    let counts = this.#buckets.get(hKey);
    if (!counts) {
      counts = new Array<number>(BUCKETS.length + 1).fill(0);
      this.#buckets.set(hKey, counts);
    }
    const i = BUCKETS.findIndex((b) => seconds <= b);
    counts[i === -1 ? BUCKETS.length : i]!++;
    this.#sums.set(hKey, (this.#sums.get(hKey) ?? 0) + seconds);
  }

  /** The Prometheus text exposition. */
  async render(gauges: MetricGauges): Promise<string> {
    const lines: string[] = [];
    lines.push('# HELP mast_http_requests_total HTTP requests by method, route and status class.');
    lines.push('# TYPE mast_http_requests_total counter');
    for (const [labels, n] of this.#requests) lines.push(`mast_http_requests_total{${labels}} ${n}`);
    lines.push('# HELP mast_http_request_duration_seconds HTTP request latency.');
    lines.push('# TYPE mast_http_request_duration_seconds histogram');
    for (const [labels, counts] of this.#buckets) {
      let cumulative = 0;
      BUCKETS.forEach((le, i) => {
        cumulative += counts[i]!;
        lines.push(`mast_http_request_duration_seconds_bucket{${labels},le="${le}"} ${cumulative}`);
      });
      cumulative += counts[BUCKETS.length]!;
      lines.push(`mast_http_request_duration_seconds_bucket{${labels},le="+Inf"} ${cumulative}`);
      lines.push(`mast_http_request_duration_seconds_sum{${labels}} ${this.#sums.get(labels) ?? 0}`);
      lines.push(`mast_http_request_duration_seconds_count{${labels}} ${cumulative}`);
    }
    lines.push('# HELP mast_changelog_head_seq Seq of the newest change-log entry.');
    lines.push('# TYPE mast_changelog_head_seq gauge');
    lines.push(`mast_changelog_head_seq ${await gauges.changeLogHead()}`);
    lines.push('# HELP mast_db_size_bytes Size of the database on disk.');
    lines.push('# TYPE mast_db_size_bytes gauge');
    lines.push(`mast_db_size_bytes ${await gauges.dbSizeBytes()}`);
    if (gauges.live) renderLive(lines, gauges.live());
    lines.push('# HELP mast_uptime_seconds Seconds since the server started.');
    lines.push('# TYPE mast_uptime_seconds gauge');
    lines.push(`mast_uptime_seconds ${Math.floor((Date.now() - this.#started) / 1000)}`);
    const mem = process.memoryUsage();
    lines.push('# HELP mast_process_resident_memory_bytes Resident set size.');
    lines.push('# TYPE mast_process_resident_memory_bytes gauge');
    lines.push(`mast_process_resident_memory_bytes ${mem.rss}`);
    return lines.join('\n') + '\n';
  }
}

function renderLive(lines: string[], live: LiveStats): void {
  const gauge = (name: string, help: string, value: number, type = 'gauge'): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`);
  };
  gauge('mast_ws_sockets', 'Open WebSockets.', live.sockets);
  gauge('mast_live_subscriptions', 'Open live-query subscriptions (WebSocket and SSE).', live.subscriptions);
  gauge('mast_live_queries', 'Shared live-query evaluations.', live.queries);
  gauge('mast_fn_watches', 'Query-function watches open on WebSockets.', live.fnWatches);
  gauge('mast_rooms', 'Rooms with at least one member.', live.rooms);
  gauge('mast_room_members', 'Room memberships.', live.roomMembers);
  gauge('mast_ws_frames_sent_total', 'Frames written to WebSockets.', live.framesSent, 'counter');
  gauge('mast_ws_bytes_sent_total', 'Bytes written to WebSockets.', live.bytesSent, 'counter');
  lines.push('# HELP mast_ws_closes_total Sockets the server closed, by close code name (SLOW_CONSUMER: slow-consumer closes).');
  lines.push('# TYPE mast_ws_closes_total counter');
  for (const [name, n] of Object.entries(live.closes)) lines.push(`mast_ws_closes_total{code="${escapeLabel(name)}"} ${n}`);
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
