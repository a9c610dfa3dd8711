import type { Logger } from 'pino';
import { ADMIN, type AuthContext } from '../access/auth-context.js';
import { AppError, fnErrors } from '../errors/index.js';
import type { JobIdentity, JobRecord, Store } from '../store/index.js';
import { jobIdentity, prepareJob, type SchedulerDeps } from './call-scheduler.js';
import type { FunctionRegistry } from './function-registry.js';
import { AuthorError } from './author-error.js';
import type { FunctionRunner } from './function-runner.js';

/** Settings of the job worker, from the options table. */
export interface JobWorkerOptions {
  readonly store: Store;
  readonly runner: FunctionRunner;
  readonly registry: FunctionRegistry;
  readonly scheduler: SchedulerDeps;
  readonly logger: Logger;
  readonly now: () => number;
  /** Period of the look for due jobs and cron runs. */
  readonly pollMs: number;
  /** How long a claim holds a job; longer than any function deadline. */
  readonly leaseMs: number;
  /** Jobs run at once. */
  readonly concurrency: number;
  /** Delay before the first retry; doubled per attempt, at most MAX_BACKOFF_MS. */
  readonly backoffMs: number;
}

const MAX_BACKOFF_MS = 3_600_000;

/** The auth context a job runs with. */
function authOf(identity: JobIdentity): AuthContext {
  return {
    userId: identity.userId,
    isAdmin: identity.isAdmin,
    isGuest: identity.isGuest,
    roles: identity.roles,
    tenantId: identity.tenantId,
    orgRole: identity.orgRole,
    ...(identity.apiKeyScopes === undefined ? {} : { apiKeyScopes: identity.apiKeyScopes }),
  };
}

/** How a failed attempt is recorded in `last_error` (admins read it; it may hold the handler's own message). */
function describeFailure(err: unknown): string {
  if (err instanceof AuthorError) return `${err.code}: ${err.message}`;
  if (err instanceof AppError) {
    // Dev mode already puts the handler's message in HANDLER_ERROR's own.
    const cause = err.code === 'HANDLER_ERROR' && err.cause instanceof Error && !err.message.endsWith(`: ${err.cause.message}`) ? ` (${err.cause.message})` : '';
    return `${err.code}: ${err.message}${cause}`;
  }
  return `INTERNAL: ${err instanceof Error ? err.message : String(err)}`;
}

/**
 * Runs due jobs and fires cron schedules. Each poll first fires the crons that are due (a
 * compare-and-set on the stored next run, in the transaction that enqueues the job, so a
 * restart or a second node neither skips nor doubles a run; runs missed while no server was up
 * are fired once), then claims as many due jobs as it has free slots. A job is claimed with a
 * lease: if this process dies mid-run, the job is run again once the lease expires. A failed
 * attempt is retried after an exponential backoff, and after its last attempt the job is dead.
 * A mutation job is marked succeeded in the mutation's own transaction, so its writes take
 * effect exactly once: a crash before the commit leaves neither, a run whose lease was taken
 * over rolls back.
 */
export class JobWorker {
  readonly #o: JobWorkerOptions;
  readonly #inFlight = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #again = false;
  #stopped = true;

  constructor(options: JobWorkerOptions) {
    this.#o = options;
  }

  /** Starts polling. */
  start(): void {
    if (this.#o.concurrency <= 0) return;
    this.#stopped = false;
    this.kick();
  }

  /** Looks for work now (a job was just enqueued) instead of at the next poll. */
  kick(): void {
    if (this.#stopped) return;
    if (this.#ticking) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#ticking = this.#tick().finally(() => {
      this.#ticking = undefined;
      if (this.#stopped) return;
      if (this.#again) {
        this.#again = false;
        this.kick();
      } else {
        this.#timer = setTimeout(() => this.kick(), this.#o.pollMs);
        this.#timer.unref();
      }
    });
  }

  /** Stops claiming, then waits for the jobs in flight (each ends at its function's deadline). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#ticking;
    await Promise.all([...this.#inFlight]);
  }

  async #tick(): Promise<void> {
    try {
      await this.#fireCrons();
      const free = this.#o.concurrency - this.#inFlight.size;
      if (free <= 0) return;
      const jobs = await this.#o.store.jobs.claim(this.#o.now(), this.#o.leaseMs, free);
      for (const job of jobs) {
        const run = this.#run(job).finally(() => {
          this.#inFlight.delete(run);
          this.kick();
        });
        this.#inFlight.add(run);
      }
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'SHUTTING_DOWN')) this.#o.logger.error({ err }, 'job worker poll failed');
    }
  }

  async #fireCrons(): Promise<void> {
    const declared = this.#o.registry.current.crons;
    if (declared.size === 0) return;
    const { store, now } = this.#o;
    const stored = new Map((await store.jobs.crons()).map((c) => [c.name, c]));
    for (const cron of declared.values()) {
      const time = now();
      const state = stored.get(cron.name);
      const next = cron.expression.next(time);
      if (next === null) continue;
      if (!state || state.schedule !== cron.expression.source) {
        // A new or changed schedule starts from now; it does not fire for the past.
        await store.jobs.setCron({ name: cron.name, schedule: cron.expression.source, nextRunAt: next });
        continue;
      }
      if (state.nextRunAt > time) continue;
      let job: ReturnType<typeof prepareJob>;
      try {
        job = prepareJob(this.#o.scheduler, cron.fn, cron.args, state.nextRunAt, jobIdentity(ADMIN), cron.name);
      } catch (err) {
        this.#o.logger.error({ err, cron: cron.name }, 'cron cannot be scheduled');
        continue;
      }
      // Deterministic id: the run for this time can exist only once, whoever fires it.
      const fired = await store.jobs.fireCron(cron.name, state.nextRunAt, next, { ...job, id: `cron_${cron.name}_${state.nextRunAt}` });
      if (fired) this.#o.logger.info({ cron: cron.name, fn: cron.fn }, 'cron fired');
    }
  }

  async #run(job: JobRecord): Promise<void> {
    const { store, runner, now, logger } = this.#o;
    let completed = false;
    try {
      await runner.call(job.fn, job.args, authOf(job.identity), {
        // A mutation job completes in the mutation's own transaction: its writes and its
        // completion commit together, and not at all if this attempt lost its lease.
        beforeCommit: async (system) => {
          if (!(await system.completeJob(job.id, job.attempts, now()))) throw fnErrors.jobNotHeld(job.id);
          completed = true;
        },
      });
      if (!completed) await store.jobs.complete(job.id, job.attempts, now());
    } catch (err) {
      // `ctx.error(code, message, { permanent: true })`: retrying cannot help, so none is left.
      const permanent = err instanceof AuthorError && err.permanent;
      const last = permanent || job.attempts >= job.maxAttempts;
      const retryAt = last ? null : now() + Math.min(MAX_BACKOFF_MS, this.#o.backoffMs * 2 ** (job.attempts - 1));
      const error = describeFailure(err);
      const outcome = permanent ? 'job failed with a permanent error; it is dead' : last ? 'job failed for the last time; it is dead' : 'job failed; it will be retried';
      logger.warn({ job: job.id, fn: job.fn, attempt: job.attempts, error }, outcome);
      try {
        await store.jobs.fail(job.id, job.attempts, error, retryAt, now());
      } catch (failErr) {
        // The lease will expire and the job run again.
        logger.error({ err: failErr, job: job.id }, 'could not record a failed job attempt');
      }
    }
  }
}
