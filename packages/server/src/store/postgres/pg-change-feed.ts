import pg from 'pg';
import type { ChangeFeed, ChangeFeedOptions, ChangeRecord } from '../store.js';

export type { ChangeFeedOptions } from '../store.js';

/** The notification channel of a schema's change log (one per schema, so schemas do not wake each other). */
export function changeChannel(schema: string): string {
  return `mast_changes:${schema}`;
}

/**
 * Follows the change log of one database from another node: a dedicated connection LISTENs on
 * the schema's channel, and each notification (which carries only the new head, so no payload
 * comes near NOTIFY's 8000-byte limit) wakes a reader that pages through `seq > cursor`. The
 * log is the source of truth, notifications are only wake-ups: after every (re)connect the
 * feed LISTENs first and then reads from its cursor, so whatever committed while it was away is
 * delivered, in order, before anything newer. Entries are delivered once each because the
 * cursor only moves forward over entries already handed out.
 */
export class PgChangeFeed implements ChangeFeed {
  #cursor: number;
  #client: pg.Client | null = null;
  /** The connection being opened or in use; the loss of any earlier one is old news. */
  #attempt: pg.Client | null = null;
  #closed = false;
  #draining: Promise<void> | null = null;
  #again = false;
  #timer: NodeJS.Timeout | null = null;
  #retry: NodeJS.Timeout | null = null;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly channel: string,
    private readonly readPage: (since: number, limit: number) => Promise<ChangeRecord[]>,
    private readonly options: ChangeFeedOptions,
  ) {
    this.#cursor = options.from;
  }

  /** The seq of the last entry delivered. */
  get cursor(): number {
    return this.#cursor;
  }

  /** The server process id of the listen connection (for diagnostics), or null while disconnected. */
  get backendPid(): number | null {
    return (this.#client as (pg.Client & { processID?: number }) | null)?.processID ?? null;
  }

  /** Connects, listens and delivers what is already in the log after `from`. */
  async start(): Promise<void> {
    await this.#connect();
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client(this.config);
    this.#attempt = client;
    client.on('notification', () => this.#wake());
    client.on('error', (err) => this.#lost(client, err));
    client.on('end', () => this.#lost(client, new Error('the listen connection ended')));
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel.replaceAll('"', '""')}"`);
    } catch (err) {
      client.end().catch(() => undefined);
      this.#lost(client, err);
      return;
    }
    if (this.#closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
    // Listening first, then reading: a commit in between is both read now and notified later.
    this.#wake();
  }

  #lost(client: pg.Client, err: unknown): void {
    // A connection reports its loss twice ('error', then 'end'), the second time possibly while
    // its successor is being opened: only the current connection's loss starts a reconnect.
    if (client !== this.#attempt) return;
    this.#attempt = null;
    this.#client = null;
    if (this.#closed || this.#timer) return;
    this.options.onError?.(err);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#connect();
    }, this.options.reconnectMs ?? 250);
  }

  /** Reads the log now (a local commit need not wait for its notification to come back). */
  poke(): void {
    if (!this.#closed) this.#wake();
  }

  /** Reads from the cursor until the log has nothing newer; wakes while reading run once more after. */
  #wake(): void {
    if (this.#draining) {
      this.#again = true;
      return;
    }
    this.#draining = this.#drain().finally(() => {
      this.#draining = null;
      if (this.#again && !this.#closed) {
        this.#again = false;
        this.#wake();
      }
    });
  }

  async #drain(): Promise<void> {
    const size = this.options.pageSize ?? 500;
    try {
      for (;;) {
        if (this.#closed) return;
        const page = await this.readPage(this.#cursor, size);
        if (page.length === 0 || this.#closed) return;
        this.#cursor = page[page.length - 1]!.seq;
        this.options.onChanges(page);
        if (page.length < size) return;
      }
    } catch (err) {
      this.options.onError?.(err);
      // Read again after a pause, not at once: the database may be gone for a while.
      if (!this.#closed && !this.#retry) {
        this.#retry = setTimeout(() => {
          this.#retry = null;
          this.#wake();
        }, this.options.reconnectMs ?? 250);
      }
    }
  }

  /** Waits until everything committed so far has been delivered (for tests and shutdown). */
  async settled(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#retry) clearTimeout(this.#retry);
    this.#timer = null;
    this.#retry = null;
    const client = this.#client;
    this.#client = null;
    await this.#draining;
    await client?.end().catch(() => undefined);
  }
}
