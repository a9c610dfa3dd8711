import { entityErrors } from '../errors/index.js';

let lastNanos = 0n;
let counter = 0;

/**
 * A new row id: 40 lowercase hex characters, the wall-clock time in nanoseconds (32) then a
 * per-process counter (8), as Pylon makes them. Fixed width, so ids sort in creation order.
 */
export function newRowId(): string {
  let nanos = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
  if (nanos <= lastNanos) nanos = lastNanos + 1n; // never go backwards within a process
  lastNanos = nanos;
  counter = (counter + 1) >>> 0;
  return nanos.toString(16).padStart(32, '0') + counter.toString(16).padStart(8, '0');
}

const CLIENT_ID = /^[A-Za-z0-9_\-.:~@]{1,128}$/;

/**
 * Checks an id a client chose (offline-created rows keep theirs). Ids are path segments, so
 * they are limited to URL-safe characters; `cursor` is taken by the cursor endpoint.
 */
export function checkClientId(id: unknown): string {
  if (typeof id !== 'string' || !CLIENT_ID.test(id) || id === 'cursor') {
    throw entityErrors.invalidId();
  }
  return id;
}
