/** Where the core reads the time: jobs, cron schedules and retention. Tests move it. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** The system's clock. */
export const systemClock: Clock = { now: () => Date.now() };
