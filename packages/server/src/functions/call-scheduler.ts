import { randomUUID } from 'node:crypto';
import type { Scheduler } from '@mast/functions';
import type { AuthContext } from '../access/auth-context.js';
import { fnErrors } from '../errors/index.js';
import type { JobIdentity, JobOwner, NewJob } from '../store/index.js';
import type { DbActivity } from './function-db.js';
import type { FunctionRegistry } from './function-registry.js';
import { parseArgs } from './parse-args.js';

/** Where a scheduler writes: the mutation's transaction, or the store directly (actions). */
export interface JobSink {
  enqueue(job: NewJob): Promise<void>;
  cancel(id: string, owner: JobOwner): Promise<boolean>;
}

/** What schedulers need from the server. */
export interface SchedulerDeps {
  readonly registry: FunctionRegistry;
  /** Runs of a failing job before it is dead. */
  readonly maxAttempts: number;
  /** The clock jobs are scheduled by (ms since the epoch). */
  readonly now: () => number;
  /** Told after a job was enqueued outside a transaction, so a worker can pick it up at once. */
  readonly onEnqueued?: () => void;
}

/** The identity a job runs as: the scheduling caller, without its session. */
export function jobIdentity(auth: AuthContext): JobIdentity {
  return {
    userId: auth.userId,
    isAdmin: auth.isAdmin,
    isGuest: auth.isGuest,
    roles: [...auth.roles],
    tenantId: auth.tenantId,
    orgRole: auth.orgRole,
    ...(auth.apiKeyScopes === undefined ? {} : { apiKeyScopes: [...auth.apiKeyScopes] }),
  };
}

/** Checks a job's target and arguments now, so a bad schedule fails the call that makes it. */
export function prepareJob(deps: SchedulerDeps, fn: string, rawArgs: unknown, runAt: number, identity: JobIdentity, cron: string | null): NewJob {
  const target = deps.registry.get(fn);
  if (!target) throw fnErrors.scheduleUnknown(fn);
  if (target.definition.kind === 'query') throw fnErrors.scheduleQuery(fn);
  const args = parseArgs(fn, target.definition.args, rawArgs);
  let json: unknown;
  try {
    json = JSON.parse(JSON.stringify(args)) as unknown;
  } catch (err) {
    throw fnErrors.jobArgsNotJson(fn, err);
  }
  return { id: `job_${randomUUID()}`, fn, args: json, identity, runAt, maxAttempts: Math.max(1, deps.maxAttempts), cron, createdAt: deps.now() };
}

/**
 * `ctx.scheduler` of one call: jobs run as `auth`; `cancel` reaches only jobs `auth` scheduled
 * (any job for an admin). Each operation counts as database activity for the call's watchdog.
 */
export class CallScheduler implements Scheduler {
  readonly #deps: SchedulerDeps;
  readonly #auth: AuthContext;
  readonly #sink: JobSink;
  readonly #activity: DbActivity;

  constructor(deps: SchedulerDeps, auth: AuthContext, sink: JobSink, activity: DbActivity) {
    this.#deps = deps;
    this.#auth = auth;
    this.#sink = sink;
    this.#activity = activity;
  }

  runAfter(delayMs: number, fn: string, args?: Record<string, unknown>): Promise<string> {
    return this.#run(async () => {
      if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0) {
        throw fnErrors.invalidDelay(delayMs);
      }
      return this.#schedule(this.#deps.now() + delayMs, fn, args);
    });
  }

  runAt(at: Date | number, fn: string, args?: Record<string, unknown>): Promise<string> {
    return this.#run(async () => {
      const time = at instanceof Date ? at.getTime() : at;
      if (typeof time !== 'number' || !Number.isFinite(time)) throw fnErrors.invalidRunAt();
      return this.#schedule(time, fn, args);
    });
  }

  cancel(jobId: string): Promise<boolean> {
    return this.#run(() => (typeof jobId === 'string' ? this.#sink.cancel(jobId, this.#auth.isAdmin ? undefined : this.#auth.userId) : Promise.resolve(false)));
  }

  async #schedule(runAt: number, fn: string, args: Record<string, unknown> | undefined): Promise<string> {
    const job = prepareJob(this.#deps, fn, args ?? {}, runAt, jobIdentity(this.#auth), null);
    await this.#sink.enqueue(job);
    return job.id;
  }

  async #run<T>(fn: () => Promise<T>): Promise<T> {
    this.#activity.begin();
    try {
      return await fn();
    } finally {
      this.#activity.end();
    }
  }
}

/** `ctx.scheduler` of a query: every method explains that queries cannot schedule. */
export const QUERY_SCHEDULER: Scheduler = {
  runAfter: () => Promise.reject(fnErrors.queryCannotSchedule()),
  runAt: () => Promise.reject(fnErrors.queryCannotSchedule()),
  cancel: () => Promise.reject(fnErrors.queryCannotCancel()),
};
