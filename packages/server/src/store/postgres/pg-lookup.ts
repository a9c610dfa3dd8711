import { createRequire } from 'node:module';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { EntitySchema, FilterNode } from '@mast/schema';
import type pg from 'pg';
import { storeErrors } from '../../errors/index.js';
import { existsQuery } from './pg-tx.js';

/**
 * The worker's code (CommonJS, evaluated): one pg client on its own connection answers each
 * query, posts the answer on the reply port and wakes the waiting thread through the shared flag.
 */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const pg = require(workerData.pgPath);
const { port, flag, config } = workerData;
const signal = new Int32Array(flag);
let client = null;
async function connection() {
  if (client) return client;
  const next = new pg.Client(config);
  next.on('error', () => { if (client === next) client = null; });
  await next.connect();
  client = next;
  return next;
}
port.on('message', async ({ id, sql, params }) => {
  let reply;
  try {
    const result = await (await connection()).query(sql, params);
    reply = { id, value: result.rows[0] ? result.rows[0].e === true : false };
  } catch (err) {
    if (client) { client.end().catch(() => {}); client = null; }
    reply = { id, error: err && err.message ? String(err.message) : 'lookup failed', code: err && err.code };
  }
  port.postMessage(reply);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
});
`;

interface Reply {
  readonly id: number;
  readonly value?: boolean;
  readonly error?: string;
  readonly code?: string;
}

/**
 * Synchronous related-row lookups on PostgreSQL. Policies decide one row in memory and ask
 * `Store.rowExists` synchronously whether a related row exists; pg is asynchronous, so the
 * question goes to a worker thread with its own connection while the calling thread waits on a
 * shared flag (`Atomics.wait`) and then takes the answer off the port. The worker's connection
 * sees the last committed state, which is what a READ COMMITTED statement of a write would see
 * of rows the write has not itself changed (the store adds those: `PgStore.rowExists`).
 * Each lookup blocks the event loop for one round trip to the database (about 0.1-0.3 ms on
 * one machine), which is why list reads push policies into SQL instead.
 */
export class PgLookup {
  private readonly signal = new Int32Array(new SharedArrayBuffer(4));
  private thread: { worker: Worker; port: MessagePort } | null = null;
  private next = 1;
  private closed = false;

  /** `config` is that of the store's pool; the worker starts (and connects) at the first lookup. */
  constructor(
    private readonly config: pg.ClientConfig,
    private readonly timeoutMs = 15_000,
  ) {}

  private start(): { worker: Worker; port: MessagePort } {
    const { port1, port2 } = new MessageChannel();
    const pgPath = createRequire(import.meta.url).resolve('pg');
    // Type parsers are functions and do not cross threads; the worker only reads one boolean.
    const { types: _types, ...plain } = this.config;
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { port: port2, flag: this.signal.buffer, config: plain, pgPath }, transferList: [port2] });
    worker.unref();
    port1.unref();
    return { worker, port: port1 };
  }

  /** Whether a row of `entity` matches `where` in the last committed state; blocks until answered. */
  exists(entity: EntitySchema, where: FilterNode, resolve: (name: string) => EntitySchema | undefined): boolean {
    if (this.closed) throw storeErrors.closed();
    const { sql, params } = existsQuery(entity, where, resolve);
    this.thread ??= this.start();
    const port = this.thread.port;
    const id = this.next++;
    Atomics.store(this.signal, 0, 0);
    port.postMessage({ id, sql, params });
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0 || Atomics.wait(this.signal, 0, 0, left) === 'timed-out') {
        throw storeErrors.lookupTimedOut();
      }
      Atomics.store(this.signal, 0, 0);
      // Replies to earlier lookups that timed out are dropped here.
      for (let message = receiveMessageOnPort(port); message; message = receiveMessageOnPort(port)) {
        const reply = message.message as Reply;
        if (reply.id !== id) continue;
        if (reply.error !== undefined) {
          throw storeErrors.lookupFailed(new Error(`${reply.code ?? ''} ${reply.error}`));
        }
        return reply.value === true;
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.thread) return;
    this.thread.port.close();
    void this.thread.worker.terminate();
  }
}
