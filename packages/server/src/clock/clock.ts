/**
 * Where the server reads the time of day for what it records and decides: sessions, keys and
 * codes and their expiry, jobs, cron schedules, retention, rooms, CRDT documents. The core
 * holds one and hands it to every service; tests move it. Timers and latency measurements use
 * the real time.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** The system's clock. */
export const systemClock: Clock = { now: () => Date.now() };
